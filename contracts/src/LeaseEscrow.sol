// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {ILeaseEscrow} from "./interfaces/ILeaseEscrow.sol";
import {IXnodeRegistry} from "./interfaces/IXnodeRegistry.sol";
import {LeaseMath} from "./libraries/LeaseMath.sol";

/// @title LeaseEscrow — per-second leases of Xnode capacity, paid from an escrowed deposit.
/// @notice See ILeaseEscrow for the model. Operators and nodes are read from the XnodeRegistry; the
/// resource-proof contract holds RESOURCE_REPORTER_ROLE and cuts leases on nodes that fail a proof.
/// @dev Fee-on-transfer and rebasing tokens are not supported (deposits are credited at face value).
contract LeaseEscrow is ILeaseEscrow, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;
    using EnumerableSet for EnumerableSet.UintSet;

    /// @notice Accounts (the ResourceProofs contract) that may report failed nodes.
    bytes32 public constant RESOURCE_REPORTER_ROLE = keccak256("RESOURCE_REPORTER_ROLE");
    /// @notice Running (Active or Closing) leases one node may have; bounds the loop of reportResourceFailure.
    uint256 public constant MAX_ACTIVE_LEASES_PER_NODE = 32;
    /// @notice Ceiling of the protocol fee: 10 %.
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 1_000;
    /// @notice Longest term an offer may allow: 5 × 365 days (keeps timestamps and price × duration in range).
    uint64 public constant MAX_LEASE_DURATION = 5 * 365 days;

    /// @dev What one state change owes to whom; paid after all effects and events.
    struct Payout {
        address operator;
        uint256 operatorAmount;
        uint256 fee;
        address lessee;
        uint256 refund;
    }

    IERC20 private immutable TOKEN;
    IXnodeRegistry private immutable REGISTRY;

    /// @inheritdoc ILeaseEscrow
    uint16 public protocolFeeBps;
    /// @inheritdoc ILeaseEscrow
    address public treasury;
    /// @inheritdoc ILeaseEscrow
    uint256 public offerCount;
    /// @inheritdoc ILeaseEscrow
    uint256 public leaseCount;

    mapping(uint256 offerId => Offer offer) private _offers;
    mapping(uint256 leaseId => Lease lease) private _leases;
    mapping(address node => uint256[] offerIds) private _offersOfNode;
    mapping(address node => uint256[] leaseIds) private _leasesOfNode;
    mapping(address lessee => uint256[] leaseIds) private _leasesOfLessee;
    mapping(address node => EnumerableSet.UintSet leaseIds) private _runningLeasesOfNode;

    /// @notice Deploy the escrow.
    /// @param token_ Payment token (OPEN).
    /// @param registry_ XnodeRegistry the escrow reads operators, status and resources from.
    /// @param admin Receives DEFAULT_ADMIN_ROLE (fee, treasury, grants RESOURCE_REPORTER_ROLE).
    /// @param treasury_ Recipient of protocol fees.
    /// @param protocolFeeBps_ Protocol fee in basis points (≤ MAX_PROTOCOL_FEE_BPS; 250 in the docs' defaults).
    constructor(IERC20 token_, IXnodeRegistry registry_, address admin, address treasury_, uint16 protocolFeeBps_) {
        if (address(token_) == address(0) || address(registry_) == address(0) || admin == address(0)) {
            revert LeaseEscrowZeroAddress();
        }
        TOKEN = token_;
        REGISTRY = registry_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setProtocolFee(protocolFeeBps_);
    }

    // ---------------------------------------------------------------- operator

    /// @inheritdoc ILeaseEscrow
    function postOffer(
        address node,
        IXnodeRegistry.Resources calldata resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    ) external returns (uint256 offerId) {
        if (REGISTRY.operatorOf(node) != msg.sender) revert LeaseEscrowNotNodeOperator(node, msg.sender);
        if (!REGISTRY.isActive(node)) revert LeaseEscrowNodeNotActive(node);
        _checkTerms(node, resources, pricePerSecond, minDuration, maxDuration, noticePeriod, maxLeases);

        offerId = ++offerCount;
        Offer storage offer = _offers[offerId];
        offer.node = node;
        offer.operator = msg.sender;
        offer.active = true;
        _writeTerms(offer, resources, pricePerSecond, minDuration, maxDuration, noticePeriod, maxLeases);
        _offersOfNode[node].push(offerId);
        emit OfferPosted(
            offerId, node, msg.sender, resources, pricePerSecond, minDuration, maxDuration, noticePeriod, maxLeases
        );
    }

    /// @inheritdoc ILeaseEscrow
    function updateOffer(
        uint256 offerId,
        IXnodeRegistry.Resources calldata resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    ) external {
        Offer storage offer = _offerOfOperator(offerId);
        _checkTerms(offer.node, resources, pricePerSecond, minDuration, maxDuration, noticePeriod, maxLeases);
        _writeTerms(offer, resources, pricePerSecond, minDuration, maxDuration, noticePeriod, maxLeases);
        emit OfferUpdated(offerId, resources, pricePerSecond, minDuration, maxDuration, noticePeriod, maxLeases);
    }

    /// @inheritdoc ILeaseEscrow
    function setOfferActive(uint256 offerId, bool active) external {
        Offer storage offer = _offerOfOperator(offerId);
        offer.active = active;
        emit OfferActiveSet(offerId, active);
    }

    // ---------------------------------------------------------------- lessee

    /// @inheritdoc ILeaseEscrow
    function openLease(uint256 offerId, uint256 deposit, uint256 maxPricePerSecond)
        external
        nonReentrant
        returns (uint256 leaseId)
    {
        Offer storage offer = _offer(offerId);
        _checkOpen(offerId, offer, deposit, maxPricePerSecond);
        leaseId = _createLease(offerId, offer, deposit);
        TOKEN.safeTransferFrom(msg.sender, address(this), deposit);
    }

    /// @inheritdoc ILeaseEscrow
    function topUp(uint256 leaseId, uint256 amount) external nonReentrant {
        Lease storage lease = _leaseOfLessee(leaseId);
        if (lease.status != LeaseStatus.Active) revert LeaseEscrowInvalidStatus(leaseId, lease.status);
        if (block.timestamp >= lease.end) revert LeaseEscrowLeaseExpired(leaseId, lease.end);
        if (amount == 0) revert LeaseEscrowZeroAmount();
        uint256 deposit = lease.deposit + amount;
        uint256 maxDeposit = lease.pricePerSecond * lease.maxDuration;
        if (deposit > maxDeposit) revert LeaseEscrowDepositTooHigh(deposit, maxDeposit);

        uint64 end = LeaseMath.endOf(lease.start, deposit, lease.pricePerSecond);
        lease.deposit = deposit;
        lease.end = end;
        emit LeaseToppedUp(leaseId, amount, deposit, end);
        TOKEN.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @inheritdoc ILeaseEscrow
    function close(uint256 leaseId) external nonReentrant returns (uint256 refund) {
        Lease storage lease = _leaseOfLessee(leaseId);
        if (lease.status != LeaseStatus.Active) revert LeaseEscrowInvalidStatus(leaseId, lease.status);
        uint64 end;
        (refund, end) = _closeTerms(lease);

        lease.end = end;
        lease.refunded += refund;
        lease.status = LeaseStatus.Closing;
        emit LeaseClosing(leaseId, end, refund);

        Payout memory payout;
        if (block.timestamp >= end) payout = _settle(leaseId, lease);
        payout.lessee = lease.lessee;
        payout.refund += refund;
        _pay(payout);
    }

    // ---------------------------------------------------------------- anyone

    /// @inheritdoc ILeaseEscrow
    function settle(uint256 leaseId) external nonReentrant returns (uint256 amount) {
        Lease storage lease = _lease(leaseId);
        LeaseStatus status = lease.status;
        if (status != LeaseStatus.Active && status != LeaseStatus.Closing) {
            revert LeaseEscrowInvalidStatus(leaseId, status);
        }
        Payout memory payout = _settle(leaseId, lease);
        _pay(payout);
        return payout.operatorAmount + payout.fee;
    }

    // ---------------------------------------------------------------- resource proofs

    /// @inheritdoc ILeaseEscrow
    function reportResourceFailure(address node, uint64 failedAt, bytes32 evidence)
        external
        onlyRole(RESOURCE_REPORTER_ROLE)
        nonReentrant
        returns (uint256 terminated)
    {
        if (failedAt > block.timestamp) revert LeaseEscrowFailureInFuture(failedAt, uint64(block.timestamp));
        // Copy: _release removes from the set while we walk it. Length ≤ MAX_ACTIVE_LEASES_PER_NODE.
        uint256[] memory leaseIds = _runningLeasesOfNode[node].values();
        terminated = leaseIds.length;
        Payout[] memory payouts = new Payout[](terminated);
        uint256 totalFee;
        for (uint256 i; i < terminated; ++i) {
            payouts[i] = _terminate(leaseIds[i], failedAt, evidence);
            totalFee += payouts[i].fee;
            payouts[i].fee = 0;
        }
        emit ResourceFailureReported(node, failedAt, evidence, terminated);

        for (uint256 i; i < terminated; ++i) {
            _pay(payouts[i]);
        }
        if (totalFee != 0) TOKEN.safeTransfer(treasury, totalFee);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc ILeaseEscrow
    function setProtocolFee(uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setProtocolFee(feeBps);
    }

    /// @inheritdoc ILeaseEscrow
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ILeaseEscrow
    function closePreview(uint256 leaseId) external view returns (uint256 refund) {
        Lease storage lease = _lease(leaseId);
        if (lease.status != LeaseStatus.Active) revert LeaseEscrowInvalidStatus(leaseId, lease.status);
        (refund,) = _closeTerms(lease);
    }

    /// @inheritdoc ILeaseEscrow
    function getOffer(uint256 offerId) external view returns (Offer memory) {
        return _offer(offerId);
    }

    /// @inheritdoc ILeaseEscrow
    function getLease(uint256 leaseId) external view returns (Lease memory) {
        return _lease(leaseId);
    }

    /// @inheritdoc ILeaseEscrow
    function accruedOf(uint256 leaseId) external view returns (uint256) {
        Lease storage lease = _lease(leaseId);
        uint64 until = uint64(block.timestamp) < lease.end ? uint64(block.timestamp) : lease.end;
        return LeaseMath.cost(lease.pricePerSecond, lease.start, until);
    }

    /// @inheritdoc ILeaseEscrow
    function escrowedOf(uint256 leaseId) external view returns (uint256) {
        Lease storage lease = _lease(leaseId);
        return lease.deposit - lease.paid - lease.refunded;
    }

    /// @inheritdoc ILeaseEscrow
    function leasesOfNode(address node) external view returns (uint256[] memory) {
        return _leasesOfNode[node];
    }

    /// @inheritdoc ILeaseEscrow
    function activeLeasesOfNode(address node) external view returns (uint256[] memory) {
        return _runningLeasesOfNode[node].values();
    }

    /// @inheritdoc ILeaseEscrow
    function leasesOfLessee(address lessee) external view returns (uint256[] memory) {
        return _leasesOfLessee[lessee];
    }

    /// @inheritdoc ILeaseEscrow
    function offersOfNode(address node) external view returns (uint256[] memory) {
        return _offersOfNode[node];
    }

    /// @inheritdoc ILeaseEscrow
    function token() external view returns (IERC20) {
        return TOKEN;
    }

    /// @inheritdoc ILeaseEscrow
    function registry() external view returns (IXnodeRegistry) {
        return REGISTRY;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Record a new Active lease on `offer` for the caller, copying the offer's terms.
    function _createLease(uint256 offerId, Offer storage offer, uint256 deposit) private returns (uint256 leaseId) {
        leaseId = ++leaseCount;
        address node = offer.node;
        uint64 start = uint64(block.timestamp);
        Lease storage lease = _leases[leaseId];
        lease.offerId = offerId;
        lease.node = node;
        lease.operator = offer.operator;
        lease.lessee = msg.sender;
        lease.pricePerSecond = offer.pricePerSecond;
        lease.start = start;
        lease.end = LeaseMath.endOf(start, deposit, offer.pricePerSecond);
        lease.paidThrough = start;
        lease.minDuration = offer.minDuration;
        lease.maxDuration = offer.maxDuration;
        lease.noticePeriod = offer.noticePeriod;
        lease.feeBps = protocolFeeBps;
        lease.status = LeaseStatus.Active;
        lease.deposit = deposit;
        offer.activeLeases += 1;
        _runningLeasesOfNode[node].add(leaseId);
        _leasesOfNode[node].push(leaseId);
        _leasesOfLessee[msg.sender].push(leaseId);
        emit LeaseOpened(
            leaseId, offerId, msg.sender, node, lease.operator, lease.pricePerSecond, start, lease.end, deposit
        );
    }

    /// @dev Pay the operator [paidThrough, min(now, end)); at or after `end` also refund the rest and end the lease.
    function _settle(uint256 leaseId, Lease storage lease) private returns (Payout memory payout) {
        uint64 end = lease.end;
        uint64 until = uint64(block.timestamp) < end ? uint64(block.timestamp) : end;
        uint256 amount = LeaseMath.cost(lease.pricePerSecond, lease.paidThrough, until);
        payout.operator = lease.operator;
        payout.lessee = lease.lessee;
        if (amount != 0) {
            payout.fee = LeaseMath.fee(amount, lease.feeBps);
            payout.operatorAmount = amount - payout.fee;
            lease.paid += amount;
            lease.paidThrough = until;
            emit LeaseSettled(leaseId, payout.operator, amount, payout.fee, until);
        }
        if (block.timestamp >= end) {
            payout.refund = lease.deposit - lease.paid - lease.refunded;
            lease.refunded += payout.refund;
            lease.status = LeaseStatus.Ended;
            _release(leaseId, lease);
            emit LeaseEnded(leaseId, payout.lessee, payout.refund);
        }
    }

    /// @dev Cut a running lease at clamp(failedAt, paidThrough, end): pay the operator up to it, refund the rest.
    function _terminate(uint256 leaseId, uint64 failedAt, bytes32 evidence) private returns (Payout memory payout) {
        Lease storage lease = _leases[leaseId];
        uint64 cut = LeaseMath.cutoff(failedAt, lease.paidThrough, lease.end);
        uint256 amount = LeaseMath.cost(lease.pricePerSecond, lease.paidThrough, cut);
        payout.operator = lease.operator;
        payout.lessee = lease.lessee;
        payout.fee = LeaseMath.fee(amount, lease.feeBps);
        payout.operatorAmount = amount - payout.fee;
        lease.paid += amount;
        lease.paidThrough = cut;
        lease.end = cut;
        payout.refund = lease.deposit - lease.paid - lease.refunded;
        lease.refunded += payout.refund;
        lease.status = LeaseStatus.Terminated;
        _release(leaseId, lease);
        emit LeaseTerminated(leaseId, lease.node, cut, amount, payout.fee, payout.refund, evidence);
    }

    /// @dev The lease stops counting against its offer's and its node's limits.
    function _release(uint256 leaseId, Lease storage lease) private {
        _offers[lease.offerId].activeLeases -= 1;
        _runningLeasesOfNode[lease.node].remove(leaseId);
    }

    /// @dev Refund and new end of closing `lease` now. The operator keeps [start, newEnd); newEnd ≥ paidThrough.
    function _closeTerms(Lease storage lease) private view returns (uint256 refund, uint64 end) {
        end = LeaseMath.closeEnd(
            lease.start, lease.end, uint64(block.timestamp), lease.noticePeriod, lease.minDuration
        );
        refund = lease.deposit - LeaseMath.cost(lease.pricePerSecond, lease.start, end) - lease.refunded;
    }

    function _pay(Payout memory payout) private {
        if (payout.operatorAmount != 0) TOKEN.safeTransfer(payout.operator, payout.operatorAmount);
        if (payout.fee != 0) TOKEN.safeTransfer(treasury, payout.fee);
        if (payout.refund != 0) TOKEN.safeTransfer(payout.lessee, payout.refund);
    }

    function _checkOpen(uint256 offerId, Offer storage offer, uint256 deposit, uint256 maxPricePerSecond)
        private
        view
    {
        address node = offer.node;
        if (!offer.active) revert LeaseEscrowOfferInactive(offerId);
        if (!REGISTRY.isActive(node)) revert LeaseEscrowNodeNotActive(node);
        address current = REGISTRY.operatorOf(node);
        if (current != offer.operator) revert LeaseEscrowOfferStale(offerId, offer.operator, current);
        uint256 price = offer.pricePerSecond;
        if (price > maxPricePerSecond) revert LeaseEscrowPriceAboveMax(price, maxPricePerSecond);
        uint256 minDeposit = price * offer.minDuration;
        if (deposit < minDeposit) revert LeaseEscrowDepositTooLow(deposit, minDeposit);
        uint256 maxDeposit = price * offer.maxDuration;
        if (deposit > maxDeposit) revert LeaseEscrowDepositTooHigh(deposit, maxDeposit);
        if (offer.activeLeases >= offer.maxLeases) revert LeaseEscrowOfferFull(offerId, offer.maxLeases);
        if (_runningLeasesOfNode[node].length() >= MAX_ACTIVE_LEASES_PER_NODE) {
            revert LeaseEscrowNodeFull(node, MAX_ACTIVE_LEASES_PER_NODE);
        }
    }

    function _checkTerms(
        address node,
        IXnodeRegistry.Resources calldata resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    ) private view {
        if (pricePerSecond == 0) revert LeaseEscrowInvalidPrice(pricePerSecond);
        if (minDuration == 0 || minDuration > maxDuration || maxDuration > MAX_LEASE_DURATION) {
            revert LeaseEscrowInvalidDuration(minDuration, maxDuration);
        }
        if (pricePerSecond > type(uint256).max / maxDuration) revert LeaseEscrowInvalidPrice(pricePerSecond);
        if (noticePeriod > minDuration) revert LeaseEscrowInvalidNoticePeriod(noticePeriod, minDuration);
        if (maxLeases == 0) revert LeaseEscrowInvalidMaxLeases();
        IXnodeRegistry.Resources memory advertised = REGISTRY.getNode(node).resources;
        bool empty = resources.cpuMillicores == 0 && resources.memoryMiB == 0 && resources.storageGiB == 0
            && resources.gpus == 0;
        bool exceeds = resources.cpuMillicores > advertised.cpuMillicores || resources.memoryMiB > advertised.memoryMiB
            || resources.storageGiB > advertised.storageGiB || resources.gpus > advertised.gpus;
        if (empty || exceeds) revert LeaseEscrowInvalidResources(node);
    }

    function _writeTerms(
        Offer storage offer,
        IXnodeRegistry.Resources calldata resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    ) private {
        offer.resources = resources;
        offer.pricePerSecond = pricePerSecond;
        offer.minDuration = minDuration;
        offer.maxDuration = maxDuration;
        offer.noticePeriod = noticePeriod;
        offer.maxLeases = maxLeases;
    }

    function _offer(uint256 offerId) private view returns (Offer storage offer) {
        offer = _offers[offerId];
        if (offer.node == address(0)) revert LeaseEscrowUnknownOffer(offerId);
    }

    /// @dev The offer, if the caller posted it and still operates its node.
    function _offerOfOperator(uint256 offerId) private view returns (Offer storage offer) {
        offer = _offer(offerId);
        if (offer.operator != msg.sender || REGISTRY.operatorOf(offer.node) != msg.sender) {
            revert LeaseEscrowNotNodeOperator(offer.node, msg.sender);
        }
    }

    function _lease(uint256 leaseId) private view returns (Lease storage lease) {
        lease = _leases[leaseId];
        if (lease.status == LeaseStatus.None) revert LeaseEscrowUnknownLease(leaseId);
    }

    function _leaseOfLessee(uint256 leaseId) private view returns (Lease storage lease) {
        lease = _lease(leaseId);
        if (lease.lessee != msg.sender) revert LeaseEscrowNotLessee(leaseId, msg.sender);
    }

    function _setProtocolFee(uint16 feeBps) private {
        if (feeBps > MAX_PROTOCOL_FEE_BPS) revert LeaseEscrowInvalidFee(feeBps, MAX_PROTOCOL_FEE_BPS);
        protocolFeeBps = feeBps;
        emit ProtocolFeeSet(feeBps);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert LeaseEscrowZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
