// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IStaking} from "./IStaking.sol";

/// @title IXnodeRegistry — Xnodes: node key, PeerId, advertised resources, capacity slots, status.
/// @notice A node is identified by its node address: the Ethereum address of its secp256k1 key, which is also
/// its libp2p key. The registry derives both the address and the libp2p PeerId from the 64-byte public key.
///
/// Status machine (per node address):
///   None ──register──▶ Active ──jail──▶ Jailed ──unjail──▶ Active
///   Active ──retire──▶ Retired;  Jailed ──retire (after jailedUntil)──▶ Retired;  Retired ──register──▶ Active
/// A registration locks `minNodeStake` of the operator's free stake in Staking (the node's bond); retiring
/// unlocks it. Registered (non-retired) nodes are enumerable for task / lease assignment.
interface IXnodeRegistry {
    enum NodeStatus {
        None,
        Active,
        Jailed,
        Retired
    }

    /// @notice What a node advertises. `cpuMillicores` and `memoryMiB` must be non-zero.
    struct Resources {
        uint32 cpuMillicores;
        uint32 memoryMiB;
        uint32 storageGiB;
        uint16 gpus;
    }

    /// @notice A registered node.
    /// @param operator Wallet that registered the node, owns its bond and may update / retire it.
    /// @param status See the status machine above.
    /// @param slots Capacity slots the node offers for assignment (≥ 1).
    /// @param registeredAt Timestamp of the latest registration.
    /// @param bond Operator stake locked in Staking for this node (0 once retired).
    /// @param resources Advertised resources.
    /// @param peerId libp2p PeerId bytes (identity multihash of the protobuf secp256k1 key, 39 bytes).
    /// @param metadataURI Free-form operator metadata (region, contact, …).
    struct Node {
        address operator;
        NodeStatus status;
        uint32 slots;
        uint64 registeredAt;
        uint256 bond;
        Resources resources;
        bytes peerId;
        string metadataURI;
    }

    /// @notice Public key is not 64 bytes (uncompressed X || Y without the 0x04 prefix).
    /// @param length Length received.
    error XnodeRegistryInvalidPublicKey(uint256 length);
    /// @notice The node is already registered (Active or Jailed).
    /// @param node The node.
    error XnodeRegistryNodeAlreadyRegistered(address node);
    /// @notice The proof of possession's deadline has passed.
    /// @param deadline The signed deadline.
    /// @param now_ Current block timestamp.
    error XnodeRegistrySignatureExpired(uint256 deadline, uint256 now_);
    /// @notice The proof of possession was not signed by the node key over this message, chain and registry.
    /// @param node The node whose key should have signed.
    /// @param recovered The recovered signer (zero for a malformed signature).
    error XnodeRegistryInvalidSignature(address node, address recovered);
    /// @notice `slots` is zero.
    error XnodeRegistryInvalidSlots();
    /// @notice cpuMillicores or memoryMiB is zero.
    error XnodeRegistryInvalidResources();
    /// @notice The operator's free stake does not cover the node bond.
    /// @param operator The operator.
    /// @param have Its free stake.
    /// @param need The bond (minNodeStake).
    error XnodeRegistryInsufficientStake(address operator, uint256 have, uint256 need);
    /// @notice The node was never registered.
    /// @param node The node.
    error XnodeRegistryUnknownNode(address node);
    /// @notice Caller is not the node's operator (nor, for unjail, a jailer).
    /// @param node The node.
    /// @param caller The caller.
    error XnodeRegistryNotOperator(address node, address caller);
    /// @notice The node's status does not allow this action.
    /// @param node The node.
    /// @param status Its status.
    error XnodeRegistryInvalidStatus(address node, NodeStatus status);
    /// @notice The node is jailed until `until`.
    /// @param node The node.
    /// @param until End of the jail term.
    error XnodeRegistryStillJailed(address node, uint64 until);
    /// @notice A jail term must end in the future.
    /// @param until The rejected end.
    error XnodeRegistryInvalidJailTerm(uint64 until);
    /// @notice The operator's bonded stake no longer covers its locked collateral (a bond was slashed).
    /// @param operator The operator.
    /// @param bonded Its bonded stake.
    /// @param locked Its locked stake.
    error XnodeRegistryUndercollateralized(address operator, uint256 bonded, uint256 locked);
    /// @notice A required address is the zero address.
    error XnodeRegistryZeroAddress();

    /// @notice A node was registered.
    /// @param node Node address.
    /// @param operator Its operator.
    /// @param peerId Its libp2p PeerId bytes.
    /// @param resources Advertised resources.
    /// @param slots Capacity slots.
    /// @param bond Stake locked in Staking for it.
    /// @param metadataURI Operator metadata.
    event NodeRegistered(
        address indexed node,
        address indexed operator,
        bytes peerId,
        Resources resources,
        uint32 slots,
        uint256 bond,
        string metadataURI
    );
    /// @notice The operator changed the advertised resources or slots of a node.
    /// @param node The node.
    /// @param resources New resources.
    /// @param slots New slots.
    event NodeResourcesUpdated(address indexed node, Resources resources, uint32 slots);
    /// @notice The operator changed the metadata URI of a node.
    /// @param node The node.
    /// @param metadataURI New URI.
    event NodeMetadataUpdated(address indexed node, string metadataURI);
    /// @notice A node was retired and its bond unlocked back to the operator's free stake.
    /// @param node The node.
    /// @param operator Its operator.
    /// @param bondReleased Amount unlocked.
    event NodeRetired(address indexed node, address indexed operator, uint256 bondReleased);
    /// @notice A node was jailed (it is not assignable meanwhile).
    /// @param node The node.
    /// @param until End of the jail term.
    /// @param reason Jailer-defined reason (e.g. hash of the failed proof).
    event NodeJailed(address indexed node, uint64 until, bytes32 indexed reason);
    /// @notice A node was released from jail.
    /// @param node The node.
    /// @param by A jailer, or the operator after the term.
    event NodeUnjailed(address indexed node, address indexed by);
    /// @notice The bond required for future registrations changed (existing bonds are unchanged).
    /// @param minNodeStake New bond.
    event MinNodeStakeSet(uint256 minNodeStake);

    /// @notice Register the node whose public key is `nodePublicKey`, operated by the caller; locks `minNodeStake`
    /// of the caller's free stake as the node's bond.
    /// @param nodePublicKey 64 bytes: uncompressed secp256k1 key X || Y, without the 0x04 prefix.
    /// @param resources Advertised resources; cpuMillicores and memoryMiB must be non-zero.
    /// @param slots Capacity slots (≥ 1).
    /// @param metadataURI Free-form metadata URI.
    /// @param deadline Last timestamp at which `signature` is accepted.
    /// @param signature EIP-712 `NodeRegistration(address operator,address node,uint256 nonce,uint256 deadline)`
    /// signed by the node key, with `nonce = nonces(node)` (consumed on success). Domain "DSMP XnodeRegistry" / "1"
    /// binds the chain id and this registry's address.
    function register(
        bytes calldata nodePublicKey,
        Resources calldata resources,
        uint32 slots,
        string calldata metadataURI,
        uint256 deadline,
        bytes calldata signature
    ) external;
    /// @notice Operator only: change the advertised resources and slots of an Active or Jailed node.
    /// @param node The node.
    /// @param resources New resources (cpuMillicores and memoryMiB non-zero).
    /// @param slots New slots (≥ 1).
    function updateResources(address node, Resources calldata resources, uint32 slots) external;
    /// @notice Operator only: change the metadata URI of an Active or Jailed node.
    /// @param node The node.
    /// @param metadataURI New URI.
    function updateMetadata(address node, string calldata metadataURI) external;
    /// @notice Operator only: retire a node and unlock its bond. Allowed from Active, or from Jailed once
    /// `jailedUntil` has passed.
    /// @param node The node.
    function retire(address node) external;
    /// @notice JAILER_ROLE: jail an Active or Jailed node until `until` (> now); a second call replaces the term.
    /// @param node The node.
    /// @param until End of the term.
    /// @param reason Jailer-defined reason, echoed in the event.
    function jail(address node, uint64 until, bytes32 reason) external;
    /// @notice Release a Jailed node. A JAILER_ROLE account may do so at any time; the operator may do so once
    /// `jailedUntil` has passed, if its bonded stake still covers its locked collateral.
    /// @param node The node.
    function unjail(address node) external;
    /// @notice DEFAULT_ADMIN_ROLE: set the bond locked by future registrations (0 disables bonding).
    /// @param minNodeStake New bond in token wei.
    function setMinNodeStake(uint256 minNodeStake) external;

    /// @notice Operator of a node (zero if never registered; kept after retirement).
    /// @param node The node.
    /// @return operator Its operator.
    function operatorOf(address node) external view returns (address operator);
    /// @notice Whether a node is registered and neither jailed nor retired (assignable).
    /// @param node The node.
    /// @return active True if Active.
    function isActive(address node) external view returns (bool active);
    /// @notice What task / lease assignment needs to know about a node, in one cheap call (two storage reads,
    /// no strings): its operator, status, capacity slots and advertised resources.
    /// @param node The node.
    /// @return operator Its operator (zero if never registered).
    /// @return status Its status.
    /// @return slots Its capacity slots.
    /// @return resources Its advertised resources.
    function assignmentInfo(address node)
        external
        view
        returns (address operator, NodeStatus status, uint32 slots, Resources memory resources);
    /// @notice Full record of a node (all zero if never registered).
    /// @param node The node.
    /// @return record Its record.
    function getNode(address node) external view returns (Node memory record);
    /// @notice Node address for libp2p PeerId bytes (zero if never registered; check the status).
    /// @param peerId 39-byte PeerId.
    /// @return node The node.
    function nodeOfPeerId(bytes calldata peerId) external view returns (address node);
    /// @notice End of the current jail term of a node (0 if not jailed).
    /// @param node The node.
    /// @return until End of the term.
    function jailedUntil(address node) external view returns (uint64 until);
    /// @notice Number of registered (Active or Jailed) nodes.
    /// @return count The number.
    function nodeCount() external view returns (uint256 count);
    /// @notice Registered node at `index`; the order changes when nodes retire.
    /// @param index Index (< nodeCount()).
    /// @return node The node.
    function nodeAt(uint256 index) external view returns (address node);
    /// @notice Registered (Active or Jailed) nodes of an operator.
    /// @param operator The operator.
    /// @return nodes Its nodes.
    function nodesOf(address operator) external view returns (address[] memory nodes);
    /// @notice Bond locked by a registration made now.
    /// @return bond In token wei.
    function minNodeStake() external view returns (uint256 bond);
    /// @notice Staking contract holding the bonds.
    /// @return staking_ The Staking contract.
    function staking() external view returns (IStaking staking_);
    /// @notice Next proof-of-possession nonce of a node.
    /// @param node The node.
    /// @return nonce The nonce its next proof must carry.
    function nonces(address node) external view returns (uint256 nonce);
    /// @notice Node address and libp2p PeerId bytes derived from a 64-byte public key (reverts on a bad length).
    /// @param nodePublicKey 64 bytes X || Y.
    /// @return node keccak256(key)[12:].
    /// @return peerId 0x00 0x25 0x08 0x02 0x12 0x21 || compressed key (39 bytes).
    function deriveIdentity(bytes calldata nodePublicKey) external pure returns (address node, bytes memory peerId);
    /// @notice EIP-712 digest the node key signs to register `node` under `operator`.
    /// @param operator The operator.
    /// @param node The node.
    /// @param nonce The node's nonce.
    /// @param deadline The proof's deadline.
    /// @return digest The typed-data digest.
    function registrationDigest(address operator, address node, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32 digest);
}
