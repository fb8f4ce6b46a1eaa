// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {IServiceRegistry} from "./interfaces/IServiceRegistry.sol";

/// @title ServiceRegistry — catalogue of Service Mesh Workers, their pricing and allow-lists.
/// @notice See IServiceRegistry for the state machine. Permissionless: anyone publishes, only owners change.
contract ServiceRegistry is IServiceRegistry {
    using EnumerableSet for EnumerableSet.UintSet;

    /// @notice Longest service name in bytes (fits a DNS label; short enough for CLI tables).
    uint256 public constant MAX_NAME_LENGTH = 64;

    uint256 private _serviceCount;
    mapping(uint256 serviceId => Service) private _services;
    mapping(address owner => EnumerableSet.UintSet) private _servicesOf;
    mapping(address owner => mapping(bytes32 nameHash => uint256 serviceId)) private _idByName;
    mapping(uint256 serviceId => mapping(address consumer => bool)) private _granted;

    modifier onlyServiceOwner(uint256 serviceId) {
        _requireActiveOwner(serviceId);
        _;
    }

    // ─── Publishing ──────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IServiceRegistry
    function publish(ServiceParams calldata params) external returns (uint256 serviceId) {
        _validate(params);
        bytes32 nameHash = keccak256(bytes(params.name));
        _requireNameFree(msg.sender, params.name, nameHash, 0);

        serviceId = ++_serviceCount;
        Service storage s = _services[serviceId];
        s.owner = msg.sender;
        s.publishedAt = uint64(block.timestamp);
        _write(s, params);
        _idByName[msg.sender][nameHash] = serviceId;
        _servicesOf[msg.sender].add(serviceId);

        emit ServicePublished(serviceId, msg.sender, params);
    }

    /// @inheritdoc IServiceRegistry
    function update(uint256 serviceId, ServiceParams calldata params) external onlyServiceOwner(serviceId) {
        _validate(params);
        Service storage s = _services[serviceId];
        bytes32 oldHash = keccak256(bytes(s.name));
        bytes32 newHash = keccak256(bytes(params.name));
        if (newHash != oldHash) {
            _requireNameFree(msg.sender, params.name, newHash, serviceId);
            delete _idByName[msg.sender][oldHash];
            _idByName[msg.sender][newHash] = serviceId;
        }
        _write(s, params);
        emit ServiceUpdated(serviceId, params);
    }

    /// @inheritdoc IServiceRegistry
    function retire(uint256 serviceId) external onlyServiceOwner(serviceId) {
        Service storage s = _services[serviceId];
        s.status = ServiceStatus.Retired;
        s.retiredAt = uint64(block.timestamp);
        delete _idByName[msg.sender][keccak256(bytes(s.name))];
        emit ServiceRetired(serviceId, msg.sender);
    }

    /// @inheritdoc IServiceRegistry
    function transferServiceOwnership(uint256 serviceId, address newOwner) external onlyServiceOwner(serviceId) {
        if (newOwner == address(0)) revert ServiceRegistryZeroAddress();
        Service storage s = _services[serviceId];
        bytes32 nameHash = keccak256(bytes(s.name));
        _requireNameFree(newOwner, s.name, nameHash, serviceId);

        delete _idByName[msg.sender][nameHash];
        _servicesOf[msg.sender].remove(serviceId);
        s.owner = newOwner;
        _idByName[newOwner][nameHash] = serviceId;
        _servicesOf[newOwner].add(serviceId);

        emit ServiceOwnershipTransferred(serviceId, msg.sender, newOwner);
    }

    // ─── Allow-list ──────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IServiceRegistry
    function grant(uint256 serviceId, address consumer) external onlyServiceOwner(serviceId) {
        _setGrant(serviceId, consumer, true);
    }

    /// @inheritdoc IServiceRegistry
    function revoke(uint256 serviceId, address consumer) external onlyServiceOwner(serviceId) {
        _setGrant(serviceId, consumer, false);
    }

    /// @inheritdoc IServiceRegistry
    function grantMany(uint256 serviceId, address[] calldata consumers) external onlyServiceOwner(serviceId) {
        for (uint256 i = 0; i < consumers.length; ++i) {
            _setGrant(serviceId, consumers[i], true);
        }
    }

    /// @inheritdoc IServiceRegistry
    function revokeMany(uint256 serviceId, address[] calldata consumers) external onlyServiceOwner(serviceId) {
        for (uint256 i = 0; i < consumers.length; ++i) {
            _setGrant(serviceId, consumers[i], false);
        }
    }

    /// @inheritdoc IServiceRegistry
    function setAllowlistRoot(uint256 serviceId, bytes32 root) external onlyServiceOwner(serviceId) {
        _services[serviceId].allowlistRoot = root;
        emit AllowlistRootSet(serviceId, root);
    }

    // ─── Views ───────────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IServiceRegistry
    function isAllowed(uint256 serviceId, address consumer, bytes32[] calldata proof) external view returns (bool) {
        Service storage s = _existing(serviceId);
        if (s.visibility == Visibility.Public || consumer == s.owner || _granted[serviceId][consumer]) return true;
        bytes32 root = s.allowlistRoot;
        if (root == bytes32(0)) return false;
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(consumer))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc IServiceRegistry
    function isGranted(uint256 serviceId, address consumer) external view returns (bool) {
        return _granted[serviceId][consumer];
    }

    /// @inheritdoc IServiceRegistry
    function getService(uint256 serviceId) external view returns (Service memory) {
        return _existing(serviceId);
    }

    /// @inheritdoc IServiceRegistry
    function termsOf(uint256 serviceId) external view returns (ServiceTerms memory) {
        Service storage s = _existing(serviceId);
        return ServiceTerms({
            owner: s.owner,
            status: s.status,
            visibility: s.visibility,
            retiredAt: s.retiredAt,
            pricing: s.pricing
        });
    }

    /// @inheritdoc IServiceRegistry
    function perCallTermsOf(uint256 serviceId) external view returns (uint128 perCall, uint256 minProviderStake) {
        Service storage s = _existing(serviceId);
        return (s.pricing.perCall, s.minProviderStake);
    }

    /// @inheritdoc IServiceRegistry
    function serviceCount() external view returns (uint256) {
        return _serviceCount;
    }

    /// @inheritdoc IServiceRegistry
    function servicesOf(address owner) external view returns (uint256[] memory) {
        return _servicesOf[owner].values();
    }

    /// @inheritdoc IServiceRegistry
    function serviceIdByName(address owner, string calldata name) external view returns (uint256) {
        return _idByName[owner][keccak256(bytes(name))];
    }

    // ─── Internals ───────────────────────────────────────────────────────────────────────────────────

    function _existing(uint256 serviceId) private view returns (Service storage s) {
        s = _services[serviceId];
        if (s.owner == address(0)) revert ServiceRegistryUnknownService(serviceId);
    }

    function _requireActiveOwner(uint256 serviceId) private view {
        Service storage s = _existing(serviceId);
        if (s.owner != msg.sender) revert ServiceRegistryNotOwner(serviceId, msg.sender);
        if (s.status == ServiceStatus.Retired) revert ServiceRegistryServiceRetired(serviceId);
    }

    /// @dev `self` is the service being renamed or transferred (its own entry does not count as a duplicate).
    function _requireNameFree(address owner, string memory name, bytes32 nameHash, uint256 self) private view {
        uint256 existing = _idByName[owner][nameHash];
        if (existing != 0 && existing != self) revert ServiceRegistryDuplicateName(owner, name, existing);
    }

    function _validate(ServiceParams calldata p) private pure {
        uint256 len = bytes(p.name).length;
        if (len == 0 || len > MAX_NAME_LENGTH) revert ServiceRegistryInvalidNameLength(len, MAX_NAME_LENGTH);
        if (p.minReplicas == 0 || p.minReplicas > p.maxReplicas) {
            revert ServiceRegistryInvalidReplicas(p.minReplicas, p.maxReplicas);
        }
        Pricing calldata pr = p.pricing;
        if (pr.perPeriod > 0 && pr.periodSeconds == 0) revert ServiceRegistryInvalidPeriod(pr.perPeriod, pr.periodSeconds);
        if (pr.oneTime > 0 && pr.oneTimeDuration == 0) {
            revert ServiceRegistryInvalidOneTime(pr.oneTime, pr.oneTimeDuration);
        }
    }

    function _write(Service storage s, ServiceParams calldata p) private {
        s.name = p.name;
        s.kind = p.kind;
        s.visibility = p.visibility;
        s.pricing = p.pricing;
        s.manifestHash = p.manifestHash;
        s.minReplicas = p.minReplicas;
        s.maxReplicas = p.maxReplicas;
        s.minProviderStake = p.minProviderStake;
        s.metadataURI = p.metadataURI;
    }

    function _setGrant(uint256 serviceId, address consumer, bool allowed) private {
        if (consumer == address(0)) revert ServiceRegistryZeroAddress();
        _granted[serviceId][consumer] = allowed;
        if (allowed) emit AllowlistGranted(serviceId, consumer);
        else emit AllowlistRevoked(serviceId, consumer);
    }
}
