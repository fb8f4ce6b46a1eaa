// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IXnodeRegistry — Xnodes: node key, PeerId, advertised resources, capacity slots, status.
/// @notice A node is identified by its node address: the Ethereum address of its secp256k1 key, which is also
/// its libp2p key. The registry derives both the address and the libp2p PeerId from the 64-byte public key.
interface IXnodeRegistry {
    enum NodeStatus {
        None,
        Active,
        Jailed,
        Retired
    }

    struct Resources {
        uint32 cpuMillicores;
        uint32 memoryMiB;
        uint32 storageGiB;
        uint16 gpus;
    }

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

    function operatorOf(address node) external view returns (address);
    function isActive(address node) external view returns (bool);
    function getNode(address node) external view returns (Node memory);
}
