// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IServiceRegistry} from "./interfaces/IServiceRegistry.sol";
import {ISubscriptions} from "./interfaces/ISubscriptions.sol";
import {StreamMath} from "./libraries/StreamMath.sol";

/// @title Subscriptions — pull-based consumer escrow for recurring and one-time service access.
/// @notice See ISubscriptions. Amounts are in the token's smallest unit, so 6-decimal tokens work as well as OPEN.
contract Subscriptions is ISubscriptions, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Highest protocol fee the admin can set (10 %).
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 1_000;

    /// @inheritdoc ISubscriptions
    IERC20 public immutable token;
    /// @inheritdoc ISubscriptions
    IServiceRegistry public immutable services;
    /// @inheritdoc ISubscriptions
    uint16 public protocolFeeBps;
    /// @inheritdoc ISubscriptions
    address public treasury;

    mapping(uint256 serviceId => mapping(address consumer => Subscription)) private _subs;
    mapping(uint256 serviceId => uint256 count) private _subscriberCount;

    /// @dev Payouts of one settlement, carried to the transfer step.
    struct Payout {
        uint256 owner;
        uint256 fee;
    }

    /// @param token_ Payment token (OPEN or any plain ERC-20).
    /// @param services_ Service registry.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE (fee and treasury).
    /// @param treasury_ Fee recipient.
    /// @param protocolFeeBps_ Protocol fee in basis points (deployments use 250 = 2.5 %; max 1 000).
    constructor(IERC20 token_, IServiceRegistry services_, address admin, address treasury_, uint16 protocolFeeBps_) {
        if (address(token_) == address(0) || address(services_) == address(0) || admin == address(0)) {
            revert SubscriptionsZeroAddress();
        }
        token = token_;
        services = services_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setProtocolFee(protocolFeeBps_);
    }

    // ─── Consumers ───────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc ISubscriptions
    function subscribe(uint256 serviceId, uint32 periods, uint256 maxPricePerPeriod, bytes32[] calldata proof)
        external
        nonReentrant
    {
        _subscribe(serviceId, periods, maxPricePerPeriod, proof);
    }

    /// @inheritdoc ISubscriptions
    function renew(uint256 serviceId, uint32 periods, uint256 maxPricePerPeriod, bytes32[] calldata proof)
        external
        nonReentrant
    {
        _subscribe(serviceId, periods, maxPricePerPeriod, proof);
    }

    /// @inheritdoc ISubscriptions
    function subscribeWithPermit(
        uint256 serviceId,
        uint32 periods,
        uint256 maxPricePerPeriod,
        bytes32[] calldata proof,
        Permit calldata permit
    ) external nonReentrant {
        _tryPermit(permit);
        _subscribe(serviceId, periods, maxPricePerPeriod, proof);
    }

    /// @inheritdoc ISubscriptions
    function subscribeOnce(uint256 serviceId, uint256 maxPrice, bytes32[] calldata proof) external nonReentrant {
        _subscribeOnce(serviceId, maxPrice, proof);
    }

    /// @inheritdoc ISubscriptions
    function subscribeOnceWithPermit(uint256 serviceId, uint256 maxPrice, bytes32[] calldata proof, Permit calldata permit)
        external
        nonReentrant
    {
        _tryPermit(permit);
        _subscribeOnce(serviceId, maxPrice, proof);
    }

    /// @inheritdoc ISubscriptions
    function cancel(uint256 serviceId) external nonReentrant returns (uint256 refund) {
        Subscription storage sub = _subs[serviceId][msg.sender];
        if (sub.balance == 0) revert SubscriptionsNothingToCancel(serviceId, msg.sender);
        IServiceRegistry.ServiceTerms memory terms = services.termsOf(serviceId);
        uint64 nowTs = uint64(block.timestamp);

        Payout memory p = _accrue(serviceId, msg.sender, sub, terms, nowTs);
        refund = sub.balance;
        sub.balance = 0;
        uint64 endedAt = sub.paidUntil < nowTs ? sub.paidUntil : nowTs;
        sub.paidUntil = endedAt;
        sub.lastSettled = endedAt;
        _uncountIfLapsed(serviceId, msg.sender, sub, terms, nowTs);
        emit Cancelled(serviceId, msg.sender, refund, endedAt);

        _pay(terms.owner, p);
        token.safeTransfer(msg.sender, refund);
    }

    // ─── Keepers / owners ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc ISubscriptions
    function settle(uint256 serviceId, address consumer) external nonReentrant returns (uint256 released) {
        IServiceRegistry.ServiceTerms memory terms = services.termsOf(serviceId);
        Payout memory p = _settle(serviceId, consumer, terms, uint64(block.timestamp));
        released = p.owner + p.fee;
        _pay(terms.owner, p);
    }

    /// @inheritdoc ISubscriptions
    function settleMany(uint256 serviceId, address[] calldata consumers)
        external
        nonReentrant
        returns (uint256 released)
    {
        IServiceRegistry.ServiceTerms memory terms = services.termsOf(serviceId);
        uint64 nowTs = uint64(block.timestamp);
        Payout memory total;
        for (uint256 i = 0; i < consumers.length; ++i) {
            Payout memory p = _settle(serviceId, consumers[i], terms, nowTs);
            total.owner += p.owner;
            total.fee += p.fee;
        }
        released = total.owner + total.fee;
        _pay(terms.owner, total);
    }

    // ─── Admin ───────────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc ISubscriptions
    function setProtocolFee(uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setProtocolFee(feeBps);
    }

    /// @inheritdoc ISubscriptions
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    // ─── Views ───────────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc ISubscriptions
    function getSubscription(uint256 serviceId, address consumer) external view returns (Subscription memory) {
        return _subs[serviceId][consumer];
    }

    /// @inheritdoc ISubscriptions
    function isActive(uint256 serviceId, address consumer) public view returns (bool) {
        return block.timestamp < expiresAt(serviceId, consumer);
    }

    /// @inheritdoc ISubscriptions
    function isSubscribed(uint256 serviceId, address consumer) external view returns (bool) {
        return isActive(serviceId, consumer);
    }

    /// @inheritdoc ISubscriptions
    function expiresAt(uint256 serviceId, address consumer) public view returns (uint64) {
        Subscription storage sub = _subs[serviceId][consumer];
        uint64 end = sub.paidUntil > sub.oneTimeUntil ? sub.paidUntil : sub.oneTimeUntil;
        if (end == 0) return 0;
        return _capAtRetirement(end, services.termsOf(serviceId));
    }

    /// @inheritdoc ISubscriptions
    function accruedOf(uint256 serviceId, address consumer) public view returns (uint256) {
        Subscription storage sub = _subs[serviceId][consumer];
        if (sub.balance == 0) return 0;
        uint64 until = _capAtRetirement(uint64(block.timestamp), services.termsOf(serviceId));
        return StreamMath.accrued(sub.balance, sub.lastSettled, sub.paidUntil, until);
    }

    /// @inheritdoc ISubscriptions
    function refundPreview(uint256 serviceId, address consumer) external view returns (uint256) {
        return _subs[serviceId][consumer].balance - accruedOf(serviceId, consumer);
    }

    /// @inheritdoc ISubscriptions
    function subscriberCount(uint256 serviceId) external view returns (uint256) {
        return _subscriberCount[serviceId];
    }

    // ─── Internals ───────────────────────────────────────────────────────────────────────────────────

    function _subscribe(uint256 serviceId, uint32 periods, uint256 maxPricePerPeriod, bytes32[] calldata proof)
        private
    {
        if (periods == 0) revert SubscriptionsZeroPeriods(serviceId);
        IServiceRegistry.ServiceTerms memory terms = services.termsOf(serviceId);
        if (terms.status == IServiceRegistry.ServiceStatus.Retired) revert SubscriptionsServiceRetired(serviceId);
        uint256 price = terms.pricing.perPeriod;
        if (price == 0) revert SubscriptionsNotRecurring(serviceId);
        if (price > maxPricePerPeriod) revert SubscriptionsPriceAboveMax(serviceId, price, maxPricePerPeriod);
        _requireAllowed(serviceId, terms, proof);

        Subscription storage sub = _subs[serviceId][msg.sender];
        uint64 nowTs = uint64(block.timestamp);
        Payout memory p = _accrue(serviceId, msg.sender, sub, terms, nowTs);
        uint256 deposit = price * periods;
        uint64 start = sub.paidUntil > nowTs ? sub.paidUntil : nowTs;
        sub.balance = SafeCast.toUint128(sub.balance + deposit);
        sub.paidUntil = SafeCast.toUint64(start + uint256(periods) * terms.pricing.periodSeconds);
        sub.lastSettled = nowTs;
        _count(serviceId, msg.sender, sub);
        emit Subscribed(serviceId, msg.sender, periods, price, deposit, sub.balance, sub.paidUntil);

        token.safeTransferFrom(msg.sender, address(this), deposit);
        _pay(terms.owner, p);
    }

    function _subscribeOnce(uint256 serviceId, uint256 maxPrice, bytes32[] calldata proof) private {
        IServiceRegistry.ServiceTerms memory terms = services.termsOf(serviceId);
        if (terms.status == IServiceRegistry.ServiceStatus.Retired) revert SubscriptionsServiceRetired(serviceId);
        uint256 price = terms.pricing.oneTime;
        if (price == 0) revert SubscriptionsNotOneTime(serviceId);
        if (price > maxPrice) revert SubscriptionsPriceAboveMax(serviceId, price, maxPrice);
        _requireAllowed(serviceId, terms, proof);

        Subscription storage sub = _subs[serviceId][msg.sender];
        uint64 nowTs = uint64(block.timestamp);
        uint64 start = sub.oneTimeUntil > nowTs ? sub.oneTimeUntil : nowTs;
        sub.oneTimeUntil = SafeCast.toUint64(uint256(start) + terms.pricing.oneTimeDuration);
        _count(serviceId, msg.sender, sub);
        uint256 fee = StreamMath.fee(price, protocolFeeBps);
        emit SubscribedOnce(serviceId, msg.sender, terms.owner, price, price - fee, fee, sub.oneTimeUntil);

        // Earned at once: straight from the consumer to the owner and the treasury, never held here.
        if (price - fee > 0) token.safeTransferFrom(msg.sender, terms.owner, price - fee);
        if (fee > 0) token.safeTransferFrom(msg.sender, treasury, fee);
    }

    /// @dev Release and book what `consumer`'s stream has accrued by `nowTs`; emits Settled if anything was.
    function _accrue(
        uint256 serviceId,
        address consumer,
        Subscription storage sub,
        IServiceRegistry.ServiceTerms memory terms,
        uint64 nowTs
    ) private returns (Payout memory p) {
        uint64 until = _capAtRetirement(nowTs, terms);
        uint256 released = StreamMath.accrued(sub.balance, sub.lastSettled, sub.paidUntil, until);
        if (released == 0) return p;
        uint64 settledUntil = until < sub.paidUntil ? until : sub.paidUntil;
        sub.balance -= uint128(released); // released <= balance (StreamMath)
        sub.lastSettled = settledUntil;
        p.fee = StreamMath.fee(released, protocolFeeBps);
        p.owner = released - p.fee;
        emit Settled(serviceId, consumer, terms.owner, p.owner, p.fee, sub.balance, settledUntil);
    }

    function _settle(uint256 serviceId, address consumer, IServiceRegistry.ServiceTerms memory terms, uint64 nowTs)
        private
        returns (Payout memory p)
    {
        Subscription storage sub = _subs[serviceId][consumer];
        p = _accrue(serviceId, consumer, sub, terms, nowTs);
        _uncountIfLapsed(serviceId, consumer, sub, terms, nowTs);
    }

    function _count(uint256 serviceId, address consumer, Subscription storage sub) private {
        if (sub.counted) return;
        sub.counted = true;
        uint256 count = ++_subscriberCount[serviceId];
        emit SubscriberAdded(serviceId, consumer, count);
    }

    /// @dev Stop counting the pair once both its stream and its one-time window (capped at retirement) ended.
    function _uncountIfLapsed(
        uint256 serviceId,
        address consumer,
        Subscription storage sub,
        IServiceRegistry.ServiceTerms memory terms,
        uint64 nowTs
    ) private {
        if (!sub.counted) return;
        uint64 end = sub.paidUntil > sub.oneTimeUntil ? sub.paidUntil : sub.oneTimeUntil;
        if (nowTs < _capAtRetirement(end, terms)) return;
        sub.counted = false;
        uint256 count = --_subscriberCount[serviceId];
        emit SubscriberRemoved(serviceId, consumer, count);
    }

    function _requireAllowed(uint256 serviceId, IServiceRegistry.ServiceTerms memory terms, bytes32[] calldata proof)
        private
        view
    {
        if (terms.visibility == IServiceRegistry.Visibility.Public) return;
        if (!services.isAllowed(serviceId, msg.sender, proof)) revert SubscriptionsNotAllowed(serviceId, msg.sender);
    }

    /// @dev Transfers of one settlement. Zero amounts are skipped (some tokens reject zero transfers).
    function _pay(address owner, Payout memory p) private {
        if (p.owner > 0) token.safeTransfer(owner, p.owner);
        if (p.fee > 0) token.safeTransfer(treasury, p.fee);
    }

    function _tryPermit(Permit calldata permit) private {
        try IERC20Permit(address(token)).permit(
            msg.sender, address(this), permit.value, permit.deadline, permit.v, permit.r, permit.s
        ) {} catch {} // solhint-disable-line no-empty-blocks
    }

    function _capAtRetirement(uint64 time, IServiceRegistry.ServiceTerms memory terms) private pure returns (uint64) {
        if (terms.status == IServiceRegistry.ServiceStatus.Retired && terms.retiredAt < time) return terms.retiredAt;
        return time;
    }

    function _setProtocolFee(uint16 feeBps) private {
        if (feeBps > MAX_PROTOCOL_FEE_BPS) revert SubscriptionsFeeTooHigh(feeBps, MAX_PROTOCOL_FEE_BPS);
        protocolFeeBps = feeBps;
        emit ProtocolFeeSet(feeBps);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert SubscriptionsZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
