// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IServiceRegistry — the on-chain catalogue of Service Mesh Workers.
/// @notice A service is published by its owner under a name unique per owner and gets a sequential id from 1
/// (so a CLI can say `dsmp call 1 /hello`). It carries what operators need to run it (kind, manifest hash,
/// replica bounds, minimum provider stake) and what consumers pay (per call / per period / one-time).
///
/// State machine (per service):
///
///     (none) --publish--> Active --retire--> Retired   (terminal; name released, nothing can be changed)
///                          |  ^
///                          +--+ update / transferServiceOwnership / grant / revoke / setAllowlistRoot
///
/// Private services admit a consumer if it is the owner, was granted explicitly, or proves membership in the
/// Merkle allow-list with leaf = keccak256(bytes.concat(keccak256(abi.encode(consumer)))) (OpenZeppelin
/// StandardMerkleTree layout, sorted-pair hashing).
///
/// The registry has no admin: nobody but a service's owner can change it. Every state change emits an event
/// carrying the full new values, so an indexer can rebuild the registry from logs alone.
interface IServiceRegistry {
    /// @notice How a service is run: a long-lived HTTP endpoint, or a task executed on demand.
    enum ServiceKind {
        Http,
        Task
    }

    /// @notice Public services are open to anyone; private ones only to allow-listed consumers.
    enum Visibility {
        Public,
        Private
    }

    /// @notice Lifecycle of a service. Retired is terminal.
    enum ServiceStatus {
        Active,
        Retired
    }

    /// @notice Prices in the payment token's smallest unit. Zero disables that way of paying.
    /// @dev perCall is advertised for per-call metering (a later component); Subscriptions uses the others.
    struct Pricing {
        uint128 perCall;
        uint128 perPeriod;
        uint64 periodSeconds;
        uint128 oneTime;
        uint64 oneTimeDuration;
    }

    /// @notice Everything an owner chooses when publishing or updating a service.
    struct ServiceParams {
        string name;
        ServiceKind kind;
        Visibility visibility;
        Pricing pricing;
        bytes32 manifestHash;
        uint16 minReplicas;
        uint16 maxReplicas;
        uint256 minProviderStake;
        string metadataURI;
    }

    /// @notice A service as stored.
    struct Service {
        address owner;
        ServiceStatus status;
        ServiceKind kind;
        Visibility visibility;
        uint64 publishedAt;
        uint64 retiredAt;
        bytes32 allowlistRoot;
        Pricing pricing;
        bytes32 manifestHash;
        uint16 minReplicas;
        uint16 maxReplicas;
        uint256 minProviderStake;
        string name;
        string metadataURI;
    }

    /// @notice The part of a service payment contracts need (no strings, so cheap to read).
    struct ServiceTerms {
        address owner;
        ServiceStatus status;
        Visibility visibility;
        uint64 retiredAt;
        Pricing pricing;
    }

    /// @notice No service has this id.
    error ServiceRegistryUnknownService(uint256 serviceId);
    /// @notice Caller is not the owner of the service.
    error ServiceRegistryNotOwner(uint256 serviceId, address caller);
    /// @notice The service is retired and can no longer be changed.
    error ServiceRegistryServiceRetired(uint256 serviceId);
    /// @notice Name is empty or longer than MAX_NAME_LENGTH bytes.
    error ServiceRegistryInvalidNameLength(uint256 length, uint256 maxLength);
    /// @notice `owner` already has a live service called `name`.
    error ServiceRegistryDuplicateName(address owner, string name, uint256 existingServiceId);
    /// @notice Replica bounds must satisfy 1 <= minReplicas <= maxReplicas.
    error ServiceRegistryInvalidReplicas(uint16 minReplicas, uint16 maxReplicas);
    /// @notice A per-period price needs a non-zero period.
    error ServiceRegistryInvalidPeriod(uint128 perPeriod, uint64 periodSeconds);
    /// @notice A one-time price needs a non-zero access duration.
    error ServiceRegistryInvalidOneTime(uint128 oneTime, uint64 oneTimeDuration);
    /// @notice Zero address where an account is required.
    error ServiceRegistryZeroAddress();

    /// @notice A new service; `params` holds every field chosen by the owner.
    event ServicePublished(uint256 indexed serviceId, address indexed owner, ServiceParams params);
    /// @notice The owner replaced every field of `params` (the previous name is released).
    event ServiceUpdated(uint256 indexed serviceId, ServiceParams params);
    /// @notice The service is retired for good; its name is free again for its owner.
    event ServiceRetired(uint256 indexed serviceId, address indexed owner);
    /// @notice The service (with its allow-list and payments) now belongs to `newOwner`.
    event ServiceOwnershipTransferred(uint256 indexed serviceId, address indexed previousOwner, address indexed newOwner);
    /// @notice `consumer` was explicitly allowed to use the (private) service.
    event AllowlistGranted(uint256 indexed serviceId, address indexed consumer);
    /// @notice `consumer`'s explicit grant was removed (a Merkle proof may still admit it).
    event AllowlistRevoked(uint256 indexed serviceId, address indexed consumer);
    /// @notice New Merkle root of the allow-list (zero disables proofs).
    event AllowlistRootSet(uint256 indexed serviceId, bytes32 root);

    /// @notice Publish a service owned by the caller.
    /// @param params Name (1..64 bytes, unique among the caller's live services), kind, visibility, pricing,
    /// manifest hash, replica bounds, minimum provider stake and metadata URI.
    /// @return serviceId The new id (sequential from 1).
    function publish(ServiceParams calldata params) external returns (uint256 serviceId);

    /// @notice Replace every field of an active service (owner only). A new name is checked for uniqueness.
    function update(uint256 serviceId, ServiceParams calldata params) external;

    /// @notice Retire an active service for good (owner only). Existing subscriptions stop accruing.
    function retire(uint256 serviceId) external;

    /// @notice Give an active service to `newOwner` (owner only; one step). The name must be free for `newOwner`.
    function transferServiceOwnership(uint256 serviceId, address newOwner) external;

    /// @notice Explicitly allow `consumer` (owner only).
    function grant(uint256 serviceId, address consumer) external;

    /// @notice Remove the explicit grant of `consumer` (owner only).
    function revoke(uint256 serviceId, address consumer) external;

    /// @notice Explicitly allow every address in `consumers` (owner only).
    function grantMany(uint256 serviceId, address[] calldata consumers) external;

    /// @notice Remove the explicit grants of every address in `consumers` (owner only).
    function revokeMany(uint256 serviceId, address[] calldata consumers) external;

    /// @notice Set the Merkle root of the allow-list (owner only). bytes32(0) disables proof-based access.
    function setAllowlistRoot(uint256 serviceId, bytes32 root) external;

    /// @notice Whether `consumer` may use the service: true for a public service, for the owner, for an
    /// explicit grant, or for a valid Merkle `proof`. Does not look at the status (see `getService`).
    function isAllowed(uint256 serviceId, address consumer, bytes32[] calldata proof) external view returns (bool);

    /// @notice Whether `consumer` holds an explicit grant.
    function isGranted(uint256 serviceId, address consumer) external view returns (bool);

    /// @notice The stored service. Reverts for an unknown id.
    function getService(uint256 serviceId) external view returns (Service memory);

    /// @notice Owner, status, visibility, retirement time and pricing. Reverts for an unknown id.
    function termsOf(uint256 serviceId) external view returns (ServiceTerms memory);

    /// @notice What a per-call claim needs, without the service's strings (so their length cannot raise a
    /// claim's gas): the per-call price and the stake a provider's operator must bond. Reverts for an unknown id.
    function perCallTermsOf(uint256 serviceId) external view returns (uint128 perCall, uint256 minProviderStake);

    /// @notice Number of services ever published (= highest id).
    function serviceCount() external view returns (uint256);

    /// @notice Ids of every service (active or retired) currently owned by `owner`, in no particular order.
    function servicesOf(address owner) external view returns (uint256[] memory);

    /// @notice Id of `owner`'s live (not retired) service called `name`, or 0.
    function serviceIdByName(address owner, string calldata name) external view returns (uint256);
}
