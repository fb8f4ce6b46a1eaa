// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IXnodeRegistry} from "./interfaces/IXnodeRegistry.sol";

/// @title XnodeRegistry — Xnodes, their libp2p identity, advertised resources and status.
/// @notice An operator registers a node by presenting the node's public key and a proof of possession signed
/// by that key; the registry derives the node address and the libp2p PeerId from the key and locks
/// `minNodeStake` of the operator's free stake as the node's bond. Needs LOCKER_ROLE on Staking.
/// @dev The public key is not checked to be on the curve: the proof of possession recovers an address from a
/// signature, and that address must equal keccak256(key)[12:]; a key that is not the signer's would need a
/// 160-bit keccak preimage.
contract XnodeRegistry is IXnodeRegistry, AccessControl, EIP712, Nonces {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @notice Accounts (resource-proof / task contracts, governance) that may jail and unjail nodes.
    bytes32 public constant JAILER_ROLE = keccak256("JAILER_ROLE");
    /// @notice EIP-712 type of the proof of possession signed by the node key.
    bytes32 public constant NODE_REGISTRATION_TYPEHASH =
        keccak256("NodeRegistration(address operator,address node,uint256 nonce,uint256 deadline)");
    /// @notice Length of an uncompressed secp256k1 public key without its 0x04 prefix.
    uint256 public constant PUBLIC_KEY_LENGTH = 64;
    /// @dev identity multihash (0x00, length 0x25 = 37) of the protobuf PublicKey { Type = Secp256k1 (0x08 0x02),
    /// Data = 33 bytes (0x12 0x21) }, followed by the compressed key.
    bytes6 private constant PEER_ID_PREFIX = 0x002508021221;

    IStaking private immutable STAKING;
    /// @inheritdoc IXnodeRegistry
    uint256 public minNodeStake;

    mapping(address node => Node record) private _nodes;
    mapping(address node => uint64 until) private _jailedUntil;
    mapping(bytes32 peerIdHash => address node) private _nodeOfPeerId;
    mapping(address operator => EnumerableSet.AddressSet nodes) private _nodesOf;
    EnumerableSet.AddressSet private _registered;

    /// @notice Deploy the registry; grant it LOCKER_ROLE on `staking_` before the first registration.
    /// @param staking_ Staking contract holding the bonds.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (sets minNodeStake, grants JAILER_ROLE).
    /// @param minNodeStake_ Bond locked per registered node, in token wei.
    constructor(IStaking staking_, address admin, uint256 minNodeStake_) EIP712("DSMP XnodeRegistry", "1") {
        if (address(staking_) == address(0) || admin == address(0)) revert XnodeRegistryZeroAddress();
        STAKING = staking_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        minNodeStake = minNodeStake_;
        emit MinNodeStakeSet(minNodeStake_);
    }

    // ---------------------------------------------------------------- operator

    /// @inheritdoc IXnodeRegistry
    function register(
        bytes calldata nodePublicKey,
        Resources calldata resources,
        uint32 slots,
        string calldata metadataURI,
        uint256 deadline,
        bytes calldata signature
    ) external {
        (address node, bytes memory peerId) = _deriveIdentity(nodePublicKey);
        _checkRegistration(node, resources, slots, deadline);
        _verifyPossession(msg.sender, node, deadline, signature);
        uint256 bond = minNodeStake;
        {
            uint256 free = STAKING.freeStakeOf(msg.sender);
            if (free < bond) revert XnodeRegistryInsufficientStake(msg.sender, free, bond);
        }

        _useNonce(node);
        _nodes[node] = Node({
            operator: msg.sender,
            status: NodeStatus.Active,
            slots: slots,
            registeredAt: uint64(block.timestamp),
            bond: bond,
            resources: resources,
            peerId: peerId,
            metadataURI: metadataURI
        });
        _nodeOfPeerId[keccak256(peerId)] = node;
        _registered.add(node);
        _nodesOf[msg.sender].add(node);
        emit NodeRegistered(node, msg.sender, peerId, resources, slots, bond, metadataURI);

        if (bond != 0) STAKING.lock(msg.sender, bond, _bondRef(node));
    }

    /// @inheritdoc IXnodeRegistry
    function updateResources(address node, Resources calldata resources, uint32 slots) external {
        Node storage record = _operatedNode(node);
        _checkCapacity(resources, slots);
        record.resources = resources;
        record.slots = slots;
        emit NodeResourcesUpdated(node, resources, slots);
    }

    /// @inheritdoc IXnodeRegistry
    function updateMetadata(address node, string calldata metadataURI) external {
        Node storage record = _operatedNode(node);
        record.metadataURI = metadataURI;
        emit NodeMetadataUpdated(node, metadataURI);
    }

    /// @inheritdoc IXnodeRegistry
    function retire(address node) external {
        Node storage record = _operatedNode(node);
        if (record.status == NodeStatus.Jailed) {
            uint64 until = _jailedUntil[node];
            if (block.timestamp < until) revert XnodeRegistryStillJailed(node, until);
            delete _jailedUntil[node];
        }

        address operator = record.operator;
        uint256 bond = record.bond;
        record.status = NodeStatus.Retired;
        record.bond = 0;
        _registered.remove(node);
        _nodesOf[operator].remove(node);
        emit NodeRetired(node, operator, bond);

        if (bond != 0) STAKING.unlock(operator, bond, _bondRef(node));
    }

    // ---------------------------------------------------------------- jailers

    /// @inheritdoc IXnodeRegistry
    function jail(address node, uint64 until, bytes32 reason) external onlyRole(JAILER_ROLE) {
        Node storage record = _registeredNode(node);
        if (until <= block.timestamp) revert XnodeRegistryInvalidJailTerm(until);
        record.status = NodeStatus.Jailed;
        _jailedUntil[node] = until;
        emit NodeJailed(node, until, reason);
    }

    /// @inheritdoc IXnodeRegistry
    function unjail(address node) external {
        Node storage record = _registeredNode(node);
        if (record.status != NodeStatus.Jailed) revert XnodeRegistryInvalidStatus(node, record.status);
        if (!hasRole(JAILER_ROLE, msg.sender)) {
            address operator = record.operator;
            if (msg.sender != operator) revert XnodeRegistryNotOperator(node, msg.sender);
            uint64 until = _jailedUntil[node];
            if (block.timestamp < until) revert XnodeRegistryStillJailed(node, until);
            IStaking.StakeInfo memory info = STAKING.stakeOf(operator);
            if (info.bonded < info.locked) revert XnodeRegistryUndercollateralized(operator, info.bonded, info.locked);
        }

        record.status = NodeStatus.Active;
        delete _jailedUntil[node];
        emit NodeUnjailed(node, msg.sender);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IXnodeRegistry
    function setMinNodeStake(uint256 minNodeStake_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        minNodeStake = minNodeStake_;
        emit MinNodeStakeSet(minNodeStake_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IXnodeRegistry
    function operatorOf(address node) external view returns (address) {
        return _nodes[node].operator;
    }

    /// @inheritdoc IXnodeRegistry
    function isActive(address node) external view returns (bool) {
        return _nodes[node].status == NodeStatus.Active;
    }

    /// @inheritdoc IXnodeRegistry
    function assignmentInfo(address node)
        external
        view
        returns (address operator, NodeStatus status, uint32 slots, Resources memory resources)
    {
        Node storage record = _nodes[node];
        return (record.operator, record.status, record.slots, record.resources);
    }

    /// @inheritdoc IXnodeRegistry
    function getNode(address node) external view returns (Node memory) {
        return _nodes[node];
    }

    /// @inheritdoc IXnodeRegistry
    function nodeOfPeerId(bytes calldata peerId) external view returns (address) {
        return _nodeOfPeerId[keccak256(peerId)];
    }

    /// @inheritdoc IXnodeRegistry
    function jailedUntil(address node) external view returns (uint64) {
        return _jailedUntil[node];
    }

    /// @inheritdoc IXnodeRegistry
    function nodeCount() external view returns (uint256) {
        return _registered.length();
    }

    /// @inheritdoc IXnodeRegistry
    function nodeAt(uint256 index) external view returns (address) {
        return _registered.at(index);
    }

    /// @inheritdoc IXnodeRegistry
    function nodesOf(address operator) external view returns (address[] memory) {
        return _nodesOf[operator].values();
    }

    /// @inheritdoc IXnodeRegistry
    function staking() external view returns (IStaking) {
        return STAKING;
    }

    /// @inheritdoc IXnodeRegistry
    function nonces(address node) public view override(IXnodeRegistry, Nonces) returns (uint256) {
        return super.nonces(node);
    }

    /// @inheritdoc IXnodeRegistry
    function deriveIdentity(bytes calldata nodePublicKey) external pure returns (address node, bytes memory peerId) {
        return _deriveIdentity(nodePublicKey);
    }

    /// @inheritdoc IXnodeRegistry
    function registrationDigest(address operator, address node, uint256 nonce, uint256 deadline)
        public
        view
        returns (bytes32)
    {
        return _hashTypedDataV4(keccak256(abi.encode(NODE_REGISTRATION_TYPEHASH, operator, node, nonce, deadline)));
    }

    // ---------------------------------------------------------------- internal

    /// @dev node = last 20 bytes of keccak256(X || Y); PeerId = identity multihash of the protobuf-encoded
    /// compressed secp256k1 key ((Y odd ? 0x03 : 0x02) || X), 39 bytes in total.
    function _deriveIdentity(bytes calldata key) private pure returns (address node, bytes memory peerId) {
        if (key.length != PUBLIC_KEY_LENGTH) revert XnodeRegistryInvalidPublicKey(key.length);
        node = address(uint160(uint256(keccak256(key))));
        bytes1 parity = (uint8(key[63]) & 1) == 1 ? bytes1(0x03) : bytes1(0x02);
        peerId = abi.encodePacked(PEER_ID_PREFIX, parity, bytes32(key[0:32]));
    }

    function _checkRegistration(address node, Resources calldata resources, uint32 slots, uint256 deadline)
        private
        view
    {
        NodeStatus status = _nodes[node].status;
        if (status == NodeStatus.Active || status == NodeStatus.Jailed) revert XnodeRegistryNodeAlreadyRegistered(node);
        if (block.timestamp > deadline) revert XnodeRegistrySignatureExpired(deadline, block.timestamp);
        _checkCapacity(resources, slots);
    }

    function _checkCapacity(Resources calldata resources, uint32 slots) private pure {
        if (slots == 0) revert XnodeRegistryInvalidSlots();
        if (resources.cpuMillicores == 0 || resources.memoryMiB == 0) revert XnodeRegistryInvalidResources();
    }

    function _verifyPossession(address operator, address node, uint256 deadline, bytes calldata signature)
        private
        view
    {
        bytes32 digest = registrationDigest(operator, node, nonces(node), deadline);
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != node) {
            revert XnodeRegistryInvalidSignature(node, recovered);
        }
    }

    /// @dev Record of a registered (Active or Jailed) node.
    function _registeredNode(address node) private view returns (Node storage record) {
        record = _nodes[node];
        NodeStatus status = record.status;
        if (status == NodeStatus.None) revert XnodeRegistryUnknownNode(node);
        if (status == NodeStatus.Retired) revert XnodeRegistryInvalidStatus(node, status);
    }

    /// @dev Record of a registered node operated by the caller.
    function _operatedNode(address node) private view returns (Node storage record) {
        record = _registeredNode(node);
        if (record.operator != msg.sender) revert XnodeRegistryNotOperator(node, msg.sender);
    }

    /// @dev Staking lock reference of a node's bond.
    function _bondRef(address node) private pure returns (bytes32) {
        return bytes32(uint256(uint160(node)));
    }
}
