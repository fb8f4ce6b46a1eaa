// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

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
    error XnodeRegistryInvalidPublicKey(uint256 length);
    /// @notice The node is already registered (Active or Jailed).
    error XnodeRegistryNodeAlreadyRegistered(address node);
    /// @notice The proof of possession's deadline has passed.
    error XnodeRegistrySignatureExpired(uint256 deadline, uint256 now_);
    /// @notice The proof of possession was not signed by the node key (`recovered` is 0 for a malformed signature).
    error XnodeRegistryInvalidSignature(address node, address recovered);
    /// @notice `slots` is zero.
    error XnodeRegistryInvalidSlots();
    /// @notice cpuMillicores or memoryMiB is zero.
    error XnodeRegistryInvalidResources();
    /// @notice The operator's free stake does not cover the node bond.
    error XnodeRegistryInsufficientStake(address operator, uint256 have, uint256 need);
    /// @notice The node was never registered.
    error XnodeRegistryUnknownNode(address node);
    /// @notice Caller is not the node's operator (nor, for unjail, a jailer).
    error XnodeRegistryNotOperator(address node, address caller);
    /// @notice The node's status does not allow this action.
    error XnodeRegistryInvalidStatus(address node, NodeStatus status);
    /// @notice The node is jailed until `until`.
    error XnodeRegistryStillJailed(address node, uint64 until);
    /// @notice A jail term must end in the future.
    error XnodeRegistryInvalidJailTerm(uint64 until);
    /// @notice The operator's bonded stake no longer covers its locked collateral (a bond was slashed).
    error XnodeRegistryUndercollateralized(address operator, uint256 bonded, uint256 locked);
    /// @notice A required address is the zero address.
    error XnodeRegistryZeroAddress();

    /// @notice `node` was registered by `operator` with `bond` locked in Staking.
    event NodeRegistered(
        address indexed node,
        address indexed operator,
        bytes peerId,
        Resources resources,
        uint32 slots,
        uint256 bond,
        string metadataURI
    );
    /// @notice The operator changed the advertised resources or slots of `node`.
    event NodeResourcesUpdated(address indexed node, Resources resources, uint32 slots);
    /// @notice The operator changed the metadata URI of `node`.
    event NodeMetadataUpdated(address indexed node, string metadataURI);
    /// @notice `node` was retired and `bondReleased` unlocked back to the operator's free stake.
    event NodeRetired(address indexed node, address indexed operator, uint256 bondReleased);
    /// @notice `node` was jailed until `until` (it is not assignable meanwhile).
    event NodeJailed(address indexed node, uint64 until, bytes32 indexed reason);
    /// @notice `node` was released from jail by `by` (a jailer, or its operator after the term).
    event NodeUnjailed(address indexed node, address indexed by);
    /// @notice The bond required for future registrations changed (existing bonds are unchanged).
    event MinNodeStakeSet(uint256 minNodeStake);

    /// @notice Register the node whose public key is `nodePublicKey`, operated by the caller.
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
    function updateResources(address node, Resources calldata resources, uint32 slots) external;
    /// @notice Operator only: change the metadata URI of an Active or Jailed node.
    function updateMetadata(address node, string calldata metadataURI) external;
    /// @notice Operator only: retire a node and unlock its bond. Allowed from Active, or from Jailed once
    /// `jailedUntil` has passed.
    function retire(address node) external;
    /// @notice JAILER_ROLE: jail an Active or Jailed node until `until` (> now); a second call replaces the term.
    function jail(address node, uint64 until, bytes32 reason) external;
    /// @notice Release a Jailed node. A JAILER_ROLE account may do so at any time; the operator may do so once
    /// `jailedUntil` has passed, if its bonded stake still covers its locked collateral.
    function unjail(address node) external;
    /// @notice DEFAULT_ADMIN_ROLE: set the bond locked by future registrations.
    function setMinNodeStake(uint256 minNodeStake) external;

    /// @notice Operator of `node` (zero if never registered; kept after retirement).
    function operatorOf(address node) external view returns (address);
    /// @notice True if `node` is registered and not jailed or retired (assignable).
    function isActive(address node) external view returns (bool);
    /// @notice Full record of `node` (all zero if never registered).
    function getNode(address node) external view returns (Node memory);
    /// @notice Node address for libp2p PeerId bytes (zero if that PeerId was never registered; check the status).
    function nodeOfPeerId(bytes calldata peerId) external view returns (address);
    /// @notice End of the current jail term of `node` (0 if not jailed).
    function jailedUntil(address node) external view returns (uint64);
    /// @notice Number of registered (Active or Jailed) nodes.
    function nodeCount() external view returns (uint256);
    /// @notice Registered node at `index` (< nodeCount()); order changes when nodes retire.
    function nodeAt(uint256 index) external view returns (address);
    /// @notice Registered (Active or Jailed) nodes of `operator`.
    function nodesOf(address operator) external view returns (address[] memory);
    /// @notice Bond locked by a registration made now.
    function minNodeStake() external view returns (uint256);
    /// @notice Next proof-of-possession nonce of `node`.
    function nonces(address node) external view returns (uint256);
    /// @notice Node address and libp2p PeerId bytes derived from a 64-byte public key (reverts on a bad length).
    function deriveIdentity(bytes calldata nodePublicKey) external pure returns (address node, bytes memory peerId);
    /// @notice EIP-712 digest the node key signs to register `node` under `operator`.
    function registrationDigest(address operator, address node, uint256 nonce, uint256 deadline)
        external
        view
        returns (bytes32);
}
