// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IServiceRegistry} from "./IServiceRegistry.sol";

/// @title ISubscriptions — consumer escrow for recurring and one-time access to services, paid out by streaming.
/// @notice Per (service, consumer) there is at most one recurring stream and one one-time access window.
///
/// Recurring: `subscribe` deposits `periods × perPeriod` into escrow and extends `paidUntil`. The escrow is
/// released linearly from `lastSettled` to `paidUntil` (see StreamMath); `settle` (anyone may call it) pays
/// what has been released: fee = ceil(released × protocolFeeBps / 10 000) to the treasury, the rest to the
/// service's current owner. `cancel` settles and refunds the unreleased rest to the consumer.
/// A retired service stops accruing at its retirement time; its consumers cancel for the rest.
///
/// One-time: `subscribeOnce` pays the one-time price straight to the owner (minus fee) and extends
/// `oneTimeUntil`. It is earned at once and never refunded, not even if the service retires.
///
/// Per-call metering (voucher redemption against `perCall`) is not part of this contract (future work).
///
/// Invariant: token balance of this contract == Σ balance over all subscriptions (fee-on-transfer and
/// rebasing tokens are not supported).
interface ISubscriptions {
    /// @notice State of one (service, consumer) pair.
    /// @param balance Unreleased escrow of the recurring stream.
    /// @param lastSettled Time up to which the stream was released.
    /// @param paidUntil End of the recurring stream.
    /// @param oneTimeUntil End of the one-time access window.
    /// @param counted Whether the pair is counted in `subscriberCount`.
    struct Subscription {
        uint128 balance;
        uint64 lastSettled;
        uint64 paidUntil;
        uint64 oneTimeUntil;
        bool counted;
    }

    /// @notice ERC-2612 permit for the payment token (owner = caller, spender = this contract).
    struct Permit {
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Zero address where an account or contract is required.
    error SubscriptionsZeroAddress();
    /// @notice Protocol fee above MAX_PROTOCOL_FEE_BPS.
    error SubscriptionsFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice `subscribe` with zero periods.
    error SubscriptionsZeroPeriods(uint256 serviceId);
    /// @notice The service is retired: no new payments.
    error SubscriptionsServiceRetired(uint256 serviceId);
    /// @notice The service has no per-period price.
    error SubscriptionsNotRecurring(uint256 serviceId);
    /// @notice The service has no one-time price.
    error SubscriptionsNotOneTime(uint256 serviceId);
    /// @notice The current price exceeds what the consumer accepted (e.g. the owner raised it meanwhile).
    error SubscriptionsPriceAboveMax(uint256 serviceId, uint256 price, uint256 maxPrice);
    /// @notice The service is private and `consumer` is not on its allow-list.
    error SubscriptionsNotAllowed(uint256 serviceId, address consumer);
    /// @notice `cancel` with no escrow left.
    error SubscriptionsNothingToCancel(uint256 serviceId, address consumer);

    /// @notice A recurring subscription was opened or renewed: `deposit` = periods × pricePerPeriod was added
    /// to the escrow; the stream now holds `balance` and runs from this block's timestamp to `paidUntil`.
    event Subscribed(
        uint256 indexed serviceId,
        address indexed consumer,
        uint32 periods,
        uint256 pricePerPeriod,
        uint256 deposit,
        uint128 balance,
        uint64 paidUntil
    );
    /// @notice One-time access was bought for `price`, paid at once: `ownerAmount` to `owner`, `fee` to the
    /// treasury. Access now lasts until `oneTimeUntil`.
    event SubscribedOnce(
        uint256 indexed serviceId,
        address indexed consumer,
        address indexed owner,
        uint256 price,
        uint256 ownerAmount,
        uint256 fee,
        uint64 oneTimeUntil
    );
    /// @notice Released escrow was paid out: `ownerAmount` to `owner`, `fee` to the treasury. The stream now
    /// holds `balance`, released up to `settledUntil`.
    event Settled(
        uint256 indexed serviceId,
        address indexed consumer,
        address indexed owner,
        uint256 ownerAmount,
        uint256 fee,
        uint128 balance,
        uint64 settledUntil
    );
    /// @notice The consumer ended its recurring stream at `endedAt` and got `refund` back.
    event Cancelled(uint256 indexed serviceId, address indexed consumer, uint256 refund, uint64 endedAt);
    /// @notice The pair started being counted; `subscriberCount` is the service's new count.
    event SubscriberAdded(uint256 indexed serviceId, address indexed consumer, uint256 subscriberCount);
    /// @notice The pair stopped being counted (cancelled, or settled after lapsing); new count attached.
    event SubscriberRemoved(uint256 indexed serviceId, address indexed consumer, uint256 subscriberCount);
    /// @notice New protocol fee in basis points.
    event ProtocolFeeSet(uint16 feeBps);
    /// @notice New fee recipient.
    event TreasurySet(address treasury);

    /// @notice Open or renew the caller's recurring subscription for `periods` periods at the current
    /// per-period price. Settles what has been released so far first.
    /// @param maxPricePerPeriod Reverts if the current price is higher (protects against owner front-running).
    /// @param proof Merkle proof of the caller's allow-list membership (private services; else empty).
    function subscribe(uint256 serviceId, uint32 periods, uint256 maxPricePerPeriod, bytes32[] calldata proof)
        external;

    /// @notice Same as `subscribe` (named for CLI and UI clarity when a subscription exists).
    function renew(uint256 serviceId, uint32 periods, uint256 maxPricePerPeriod, bytes32[] calldata proof) external;

    /// @notice `subscribe` after an ERC-2612 permit. A failing permit is ignored (it may have been front-run);
    /// the allowance then decides.
    function subscribeWithPermit(
        uint256 serviceId,
        uint32 periods,
        uint256 maxPricePerPeriod,
        bytes32[] calldata proof,
        Permit calldata permit
    ) external;

    /// @notice Buy one-time access: pays the one-time price now (owner minus fee; never refunded) and extends
    /// the access window by `oneTimeDuration` from max(now, current end).
    function subscribeOnce(uint256 serviceId, uint256 maxPrice, bytes32[] calldata proof) external;

    /// @notice `subscribeOnce` after an ERC-2612 permit (a failing permit is ignored).
    function subscribeOnceWithPermit(uint256 serviceId, uint256 maxPrice, bytes32[] calldata proof, Permit calldata permit)
        external;

    /// @notice Pay out what `consumer`'s stream has released (anyone may call). Stops counting the pair once
    /// both its stream and its one-time window have lapsed.
    /// @return released Amount paid out (owner + fee).
    function settle(uint256 serviceId, address consumer) external returns (uint256 released);

    /// @notice `settle` for many consumers of one service, with one transfer to the owner and one to the treasury.
    /// @return released Total amount paid out (owners + fees).
    function settleMany(uint256 serviceId, address[] calldata consumers) external returns (uint256 released);

    /// @notice End the caller's recurring stream now: settle, then refund the unreleased rest. Works for
    /// retired services too. One-time access is not affected.
    /// @return refund Amount returned to the caller.
    function cancel(uint256 serviceId) external returns (uint256 refund);

    /// @notice Set the protocol fee in basis points (DEFAULT_ADMIN_ROLE; at most MAX_PROTOCOL_FEE_BPS).
    /// Applies to every settlement from now on, including escrow already deposited.
    function setProtocolFee(uint16 feeBps) external;

    /// @notice Set the fee recipient (DEFAULT_ADMIN_ROLE).
    function setTreasury(address treasury) external;

    /// @notice The payment token.
    function token() external view returns (IERC20);
    /// @notice The service registry read for prices, owners and allow-lists.
    function services() external view returns (IServiceRegistry);
    /// @notice Current protocol fee in basis points.
    function protocolFeeBps() external view returns (uint16);
    /// @notice Current fee recipient.
    function treasury() external view returns (address);

    /// @notice The stored state of (service, consumer).
    function getSubscription(uint256 serviceId, address consumer) external view returns (Subscription memory);

    /// @notice Whether `consumer` has access now: now < expiresAt(serviceId, consumer).
    function isActive(uint256 serviceId, address consumer) external view returns (bool);

    /// @notice Alias of `isActive` (the name used in DESIGN.md).
    function isSubscribed(uint256 serviceId, address consumer) external view returns (bool);

    /// @notice End of access: max(paidUntil, oneTimeUntil), capped at the retirement time of a retired service.
    function expiresAt(uint256 serviceId, address consumer) external view returns (uint64);

    /// @notice What `settle` would pay out now (owner + fee).
    function accruedOf(uint256 serviceId, address consumer) external view returns (uint256);

    /// @notice What `cancel` would refund now.
    function refundPreview(uint256 serviceId, address consumer) external view returns (uint256);

    /// @notice Pairs currently counted for the service (see `settle` for when a lapsed pair stops counting;
    /// an indexer computes exact live counts from events).
    function subscriberCount(uint256 serviceId) external view returns (uint256);
}
