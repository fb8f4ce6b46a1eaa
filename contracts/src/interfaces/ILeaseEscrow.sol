// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IXnodeRegistry} from "./IXnodeRegistry.sol";

/// @title ILeaseEscrow — Xnode operators lease idle capacity for OPEN paid per second (whitepaper §7.2).
/// @notice An operator posts an offer for one of its Active nodes (resources, price per second, minimum and maximum
/// term, notice period, how many leases at once). A lessee opens a lease by depositing the price of at least the
/// minimum term; the deposit streams to the operator second by second and runs out by itself at
/// `end = start + deposit / price`. Anyone may `settle` a lease to pay the operator what has accrued (minus the
/// protocol fee); at or after `end` settling also refunds the dust (< one second of price) and ends the lease.
/// The lessee may top up (never past the maximum term) or close early: the operator is still paid through the
/// notice window and the minimum term, everything beyond is refunded at once. When the resource-proof system
/// reports that a node failed, every running lease on it is cut at the failure time and the lessee refunded.
///
/// Lease status machine:
///   (none) ──openLease──▶ Active ──close──▶ Closing ──settle (now ≥ end)──▶ Ended
///   Active ──settle (now ≥ end)──▶ Ended
///   Active | Closing ──reportResourceFailure──▶ Terminated
///
/// Accounting of one lease (all amounts in token wei):
///   paid     = pricePerSecond × (paidThrough − start)    (gross: operator share + protocol fee)
///   refunded = everything sent back to the lessee
///   escrowed = deposit − paid − refunded                  (0 once Ended or Terminated)
/// The escrow's token balance always equals Σ escrowed over all leases, and over the life of all leases
/// Σ operator payouts + Σ fees + Σ refunds == Σ deposits exactly (no rounding leaks, see `settle`).
interface ILeaseEscrow {
    /// @notice Lifecycle of a lease; see the status machine above.
    enum LeaseStatus {
        None,
        Active,
        Closing,
        Ended,
        Terminated
    }

    /// @notice Capacity an operator offers on one node.
    /// @param node The Xnode whose capacity is offered.
    /// @param operator Operator of the node when the offer was posted; leases pay this address.
    /// @param resources Resources a lease on this offer gets (each ≤ the node's advertised resources).
    /// @param pricePerSecond Price in token wei per second of lease (terms apply to leases opened afterwards).
    /// @param minDuration Minimum term in seconds: the smallest deposit buys it, and `close` pays at least it.
    /// @param maxDuration Maximum term in seconds from a lease's start (deposit and top-ups are capped by it).
    /// @param noticePeriod Seconds the operator is still paid after the lessee closes (≤ minDuration).
    /// @param maxLeases How many Active / Closing leases this offer may have at once.
    /// @param activeLeases Active / Closing leases opened on this offer.
    /// @param active Whether new leases may be opened (the operator's switch).
    struct Offer {
        address node;
        address operator;
        IXnodeRegistry.Resources resources;
        uint256 pricePerSecond;
        uint64 minDuration;
        uint64 maxDuration;
        uint64 noticePeriod;
        uint32 maxLeases;
        uint32 activeLeases;
        bool active;
    }

    /// @notice One lease. Terms are copied from the offer at open, so updating the offer never changes it.
    /// @param offerId The offer it was opened on.
    /// @param node The leased node.
    /// @param operator Operator of the node at open; receives the payouts.
    /// @param lessee Who deposited; receives refunds and may top up or close.
    /// @param pricePerSecond Price in token wei per second.
    /// @param start Timestamp of `openLease`.
    /// @param end Timestamp at which the deposit runs out (moved by topUp / close, set to the cutoff on termination).
    /// @param paidThrough Timestamp up to which the operator has been paid (start ≤ paidThrough ≤ end).
    /// @param minDuration Minimum term copied from the offer.
    /// @param maxDuration Maximum term copied from the offer.
    /// @param noticePeriod Notice period copied from the offer.
    /// @param feeBps Protocol fee in basis points, fixed at open.
    /// @param status See LeaseStatus.
    /// @param deposit Total deposited (open + top-ups).
    /// @param paid Total paid out for this lease, operator share plus fee: pricePerSecond × (paidThrough − start).
    /// @param refunded Total refunded to the lessee.
    struct Lease {
        uint256 offerId;
        address node;
        address operator;
        address lessee;
        uint256 pricePerSecond;
        uint64 start;
        uint64 end;
        uint64 paidThrough;
        uint64 minDuration;
        uint64 maxDuration;
        uint64 noticePeriod;
        uint16 feeBps;
        LeaseStatus status;
        uint256 deposit;
        uint256 paid;
        uint256 refunded;
    }

    // ------------------------------------------------------------------ errors

    /// @notice A required address is the zero address.
    error LeaseEscrowZeroAddress();
    /// @notice Protocol fee above MAX_PROTOCOL_FEE_BPS.
    /// @param feeBps The rejected fee.
    /// @param maxFeeBps The ceiling.
    error LeaseEscrowInvalidFee(uint16 feeBps, uint16 maxFeeBps);
    /// @notice Price is zero, or price × maxDuration does not fit in uint256.
    /// @param pricePerSecond The rejected price.
    error LeaseEscrowInvalidPrice(uint256 pricePerSecond);
    /// @notice minDuration is zero, minDuration > maxDuration, or maxDuration > MAX_LEASE_DURATION.
    /// @param minDuration The minimum term.
    /// @param maxDuration The maximum term.
    error LeaseEscrowInvalidDuration(uint64 minDuration, uint64 maxDuration);
    /// @notice noticePeriod > minDuration.
    /// @param noticePeriod The notice period.
    /// @param minDuration The minimum term.
    error LeaseEscrowInvalidNoticePeriod(uint64 noticePeriod, uint64 minDuration);
    /// @notice maxLeases is zero.
    error LeaseEscrowInvalidMaxLeases();
    /// @notice Offered resources are all zero or exceed what the node advertises in the registry.
    /// @param node The node.
    error LeaseEscrowInvalidResources(address node);
    /// @notice The caller is not the node's operator in the registry.
    /// @param node The node.
    /// @param caller The caller.
    error LeaseEscrowNotNodeOperator(address node, address caller);
    /// @notice The node is not Active in the registry (unknown, jailed or retired).
    /// @param node The node.
    error LeaseEscrowNodeNotActive(address node);
    /// @notice No offer with this id.
    /// @param offerId The id.
    error LeaseEscrowUnknownOffer(uint256 offerId);
    /// @notice The offer is switched off.
    /// @param offerId The offer.
    error LeaseEscrowOfferInactive(uint256 offerId);
    /// @notice The node changed operator since the offer was posted; the offer is stale.
    /// @param offerId The offer.
    /// @param offerOperator Operator that posted it.
    /// @param currentOperator Operator of the node now.
    error LeaseEscrowOfferStale(uint256 offerId, address offerOperator, address currentOperator);
    /// @notice The offer's price is above the lessee's limit (it was raised before the lease was mined).
    /// @param pricePerSecond The offer's price.
    /// @param maxPricePerSecond The lessee's limit.
    error LeaseEscrowPriceAboveMax(uint256 pricePerSecond, uint256 maxPricePerSecond);
    /// @notice The deposit does not pay for the minimum term.
    /// @param deposit The deposit.
    /// @param minDeposit pricePerSecond × minDuration.
    error LeaseEscrowDepositTooLow(uint256 deposit, uint256 minDeposit);
    /// @notice The deposit (after a top-up: the total) would pay for more than the maximum term.
    /// @param deposit The (total) deposit.
    /// @param maxDeposit pricePerSecond × maxDuration.
    error LeaseEscrowDepositTooHigh(uint256 deposit, uint256 maxDeposit);
    /// @notice The offer already has maxLeases running leases.
    /// @param offerId The offer.
    /// @param maxLeases Its limit.
    error LeaseEscrowOfferFull(uint256 offerId, uint32 maxLeases);
    /// @notice The node already has MAX_ACTIVE_LEASES_PER_NODE running leases.
    /// @param node The node.
    /// @param cap MAX_ACTIVE_LEASES_PER_NODE.
    error LeaseEscrowNodeFull(address node, uint256 cap);
    /// @notice No lease with this id.
    /// @param leaseId The id.
    error LeaseEscrowUnknownLease(uint256 leaseId);
    /// @notice Only the lessee may do this.
    /// @param leaseId The lease.
    /// @param caller The caller.
    error LeaseEscrowNotLessee(uint256 leaseId, address caller);
    /// @notice The lease's status does not allow this action.
    /// @param leaseId The lease.
    /// @param status Its status.
    error LeaseEscrowInvalidStatus(uint256 leaseId, LeaseStatus status);
    /// @notice The lease's deposit already ran out (top-up after `end`); settle it and open a new one.
    /// @param leaseId The lease.
    /// @param end When it ran out.
    error LeaseEscrowLeaseExpired(uint256 leaseId, uint64 end);
    /// @notice Amount is zero.
    error LeaseEscrowZeroAmount();
    /// @notice A resource failure cannot be reported for a time in the future.
    /// @param failedAt The reported time.
    /// @param now_ Current block timestamp.
    error LeaseEscrowFailureInFuture(uint64 failedAt, uint64 now_);

    // ------------------------------------------------------------------ events

    /// @notice An operator posted an offer.
    /// @param offerId Its id.
    /// @param node The node.
    /// @param operator The operator.
    /// @param resources Resources offered.
    /// @param pricePerSecond Price per second.
    /// @param minDuration Minimum term.
    /// @param maxDuration Maximum term.
    /// @param noticePeriod Notice period.
    /// @param maxLeases Concurrent lease limit.
    event OfferPosted(
        uint256 indexed offerId,
        address indexed node,
        address indexed operator,
        IXnodeRegistry.Resources resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    );
    /// @notice An operator changed the terms of an offer (leases already open keep theirs).
    /// @param offerId The offer.
    /// @param resources Resources offered.
    /// @param pricePerSecond Price per second.
    /// @param minDuration Minimum term.
    /// @param maxDuration Maximum term.
    /// @param noticePeriod Notice period.
    /// @param maxLeases Concurrent lease limit.
    event OfferUpdated(
        uint256 indexed offerId,
        IXnodeRegistry.Resources resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    );
    /// @notice An operator switched an offer on or off.
    /// @param offerId The offer.
    /// @param active New state.
    event OfferActiveSet(uint256 indexed offerId, bool active);
    /// @notice A lease was opened and its deposit escrowed.
    /// @param leaseId Its id.
    /// @param offerId The offer.
    /// @param lessee The lessee.
    /// @param node The node.
    /// @param operator Operator paid by the lease.
    /// @param pricePerSecond Price per second.
    /// @param start Start timestamp.
    /// @param end When the deposit runs out.
    /// @param deposit Amount deposited.
    event LeaseOpened(
        uint256 indexed leaseId,
        uint256 indexed offerId,
        address indexed lessee,
        address node,
        address operator,
        uint256 pricePerSecond,
        uint64 start,
        uint64 end,
        uint256 deposit
    );
    /// @notice The lessee added to the deposit.
    /// @param leaseId The lease.
    /// @param amount Amount added.
    /// @param deposit New total deposit.
    /// @param end New end.
    event LeaseToppedUp(uint256 indexed leaseId, uint256 amount, uint256 deposit, uint64 end);
    /// @notice Accrued payment was paid out.
    /// @param leaseId The lease.
    /// @param operator Who received `amount − fee`.
    /// @param amount Gross amount (pricePerSecond × seconds newly paid).
    /// @param fee Protocol fee sent to the treasury out of `amount`.
    /// @param paidThrough New paidThrough.
    event LeaseSettled(
        uint256 indexed leaseId, address indexed operator, uint256 amount, uint256 fee, uint64 paidThrough
    );
    /// @notice The lessee closed early; the lease runs until `end` and the rest of the deposit was refunded.
    /// @param leaseId The lease.
    /// @param end New end (notice window / minimum term).
    /// @param refund Amount refunded now.
    event LeaseClosing(uint256 indexed leaseId, uint64 end, uint256 refund);
    /// @notice The lease reached its end and was finalised; the dust (< one second of price) was refunded.
    /// @param leaseId The lease.
    /// @param lessee Who received `refund`.
    /// @param refund Amount refunded.
    event LeaseEnded(uint256 indexed leaseId, address indexed lessee, uint256 refund);
    /// @notice A lease was cut short because its node failed a resource proof.
    /// @param leaseId The lease.
    /// @param node The node.
    /// @param cutoff Time through which the operator is paid.
    /// @param operatorAmount Gross amount paid out for [paidThrough, cutoff) (fee included).
    /// @param fee Protocol fee out of `operatorAmount`.
    /// @param refund Amount refunded to the lessee.
    /// @param evidence Reporter's evidence reference.
    event LeaseTerminated(
        uint256 indexed leaseId,
        address indexed node,
        uint64 cutoff,
        uint256 operatorAmount,
        uint256 fee,
        uint256 refund,
        bytes32 evidence
    );
    /// @notice The resource-proof system reported a failed node.
    /// @param node The node.
    /// @param failedAt Time of the failure.
    /// @param evidence Reporter's evidence reference.
    /// @param leasesTerminated How many leases were terminated.
    event ResourceFailureReported(
        address indexed node, uint64 failedAt, bytes32 indexed evidence, uint256 leasesTerminated
    );
    /// @notice The protocol fee for leases opened from now on changed.
    /// @param feeBps New fee in basis points.
    event ProtocolFeeSet(uint16 feeBps);
    /// @notice The fee recipient changed.
    /// @param treasury New treasury.
    event TreasurySet(address treasury);

    // ------------------------------------------------------------------ operator

    /// @notice Offer capacity of `node` (caller must be its operator; the node must be Active).
    /// @param node The node.
    /// @param resources Resources per lease; not all zero, each ≤ the node's advertised resources.
    /// @param pricePerSecond Price in token wei per second (> 0).
    /// @param minDuration Minimum term in seconds (≥ 1).
    /// @param maxDuration Maximum term in seconds (≥ minDuration, ≤ MAX_LEASE_DURATION).
    /// @param noticePeriod Seconds paid after a close (≤ minDuration).
    /// @param maxLeases Concurrent lease limit (≥ 1; the node-wide cap MAX_ACTIVE_LEASES_PER_NODE also applies).
    /// @return offerId Sequential id, starting at 1.
    function postOffer(
        address node,
        IXnodeRegistry.Resources calldata resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    ) external returns (uint256 offerId);

    /// @notice Change an offer's terms (node operator only, same rules as postOffer). Leases already open keep
    /// the terms they were opened with.
    /// @param offerId The offer.
    /// @param resources Resources per lease.
    /// @param pricePerSecond Price per second.
    /// @param minDuration Minimum term.
    /// @param maxDuration Maximum term.
    /// @param noticePeriod Notice period.
    /// @param maxLeases Concurrent lease limit (may be below the current count: it only blocks new leases).
    function updateOffer(
        uint256 offerId,
        IXnodeRegistry.Resources calldata resources,
        uint256 pricePerSecond,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 noticePeriod,
        uint32 maxLeases
    ) external;

    /// @notice Switch an offer on or off for new leases (node operator only).
    /// @param offerId The offer.
    /// @param active New state.
    function setOfferActive(uint256 offerId, bool active) external;

    // ------------------------------------------------------------------ lessee

    /// @notice Lease capacity from an offer, depositing `deposit` (requires ERC-20 allowance).
    /// @dev Fee-on-transfer / rebasing tokens are not supported.
    /// @param offerId The offer.
    /// @param deposit Between pricePerSecond × minDuration and pricePerSecond × maxDuration.
    /// @param maxPricePerSecond Highest price the caller accepts (guards against the operator raising it first).
    /// @return leaseId Sequential id, starting at 1.
    function openLease(uint256 offerId, uint256 deposit, uint256 maxPricePerSecond) external returns (uint256 leaseId);

    /// @notice Lessee only: add `amount` to an Active lease before it runs out; `end` moves forward. The total
    /// deposit stays ≤ pricePerSecond × maxDuration.
    /// @param leaseId The lease.
    /// @param amount Amount to add (> 0).
    function topUp(uint256 leaseId, uint256 amount) external;

    /// @notice Lessee only: close an Active lease early. New end = min(end, max(now + noticePeriod,
    /// start + minDuration)); the deposit beyond it is refunded now and the lease is Closing until the new end
    /// (finalised by `settle`, or here if the new end has already passed).
    /// @param leaseId The lease.
    /// @return refund Amount refunded now.
    function close(uint256 leaseId) external returns (uint256 refund);

    // ------------------------------------------------------------------ anyone

    /// @notice Pay the operator what has accrued and not been paid, minus the protocol fee
    /// (fee = ceil(amount × feeBps / 10 000), to the treasury). At or after `end` also refund the dust
    /// deposit − pricePerSecond × (end − start) to the lessee and mark the lease Ended.
    /// Does nothing (no event) if nothing has accrued since the last settlement and the lease has not ended.
    /// @param leaseId An Active or Closing lease.
    /// @return amount Gross amount paid out (operator share + fee).
    function settle(uint256 leaseId) external returns (uint256 amount);

    // ------------------------------------------------------------------ resource proofs

    /// @notice RESOURCE_REPORTER_ROLE: `node` failed a resource proof at `failedAt`. For every Active or Closing
    /// lease on it: cutoff = clamp(failedAt, paidThrough, end); the operator is paid up to the cutoff (minus fee),
    /// the lessee refunded the rest of the deposit, and the lease is Terminated. At most
    /// MAX_ACTIVE_LEASES_PER_NODE leases, so the loop is bounded.
    /// @param node The node.
    /// @param failedAt Time of the failure (≤ now).
    /// @param evidence Reference to the evidence (e.g. hash of the failed attestation), echoed in events.
    /// @return terminated How many leases were terminated.
    function reportResourceFailure(address node, uint64 failedAt, bytes32 evidence)
        external
        returns (uint256 terminated);

    // ------------------------------------------------------------------ admin

    /// @notice DEFAULT_ADMIN_ROLE: protocol fee for leases opened from now on (≤ MAX_PROTOCOL_FEE_BPS).
    /// @param feeBps Fee in basis points.
    function setProtocolFee(uint16 feeBps) external;

    /// @notice DEFAULT_ADMIN_ROLE: recipient of protocol fees (applies to every later settlement).
    /// @param treasury New treasury (non-zero).
    function setTreasury(address treasury) external;

    // ------------------------------------------------------------------ views

    /// @notice Refund the lessee would get by calling `close` now (reverts like `close` on a non-Active lease).
    /// @param leaseId The lease.
    /// @return refund Amount.
    function closePreview(uint256 leaseId) external view returns (uint256 refund);
    /// @notice An offer (reverts for an unknown id).
    /// @param offerId The offer.
    /// @return offer Its record.
    function getOffer(uint256 offerId) external view returns (Offer memory offer);
    /// @notice A lease (reverts for an unknown id).
    /// @param leaseId The lease.
    /// @return lease Its record.
    function getLease(uint256 leaseId) external view returns (Lease memory lease);
    /// @notice Total accrued so far: pricePerSecond × (min(now, end) − start). `accruedOf − paid` is what
    /// `settle` would pay now.
    /// @param leaseId The lease.
    /// @return amount Accrued amount (gross of fee).
    function accruedOf(uint256 leaseId) external view returns (uint256 amount);
    /// @notice Amount the escrow still holds for a lease: deposit − paid − refunded.
    /// @param leaseId The lease.
    /// @return amount Escrowed amount.
    function escrowedOf(uint256 leaseId) external view returns (uint256 amount);
    /// @notice Every lease ever opened on a node, oldest first.
    /// @param node The node.
    /// @return leaseIds Lease ids.
    function leasesOfNode(address node) external view returns (uint256[] memory leaseIds);
    /// @notice Active and Closing leases of a node (≤ MAX_ACTIVE_LEASES_PER_NODE), in no particular order.
    /// @param node The node.
    /// @return leaseIds Lease ids.
    function activeLeasesOfNode(address node) external view returns (uint256[] memory leaseIds);
    /// @notice Every lease ever opened by a lessee, oldest first.
    /// @param lessee The lessee.
    /// @return leaseIds Lease ids.
    function leasesOfLessee(address lessee) external view returns (uint256[] memory leaseIds);
    /// @notice Every offer ever posted for a node, oldest first.
    /// @param node The node.
    /// @return offerIds Offer ids.
    function offersOfNode(address node) external view returns (uint256[] memory offerIds);
    /// @notice Number of offers posted (the latest id).
    /// @return count The number.
    function offerCount() external view returns (uint256 count);
    /// @notice Number of leases opened (the latest id).
    /// @return count The number.
    function leaseCount() external view returns (uint256 count);
    /// @notice Protocol fee in basis points applied to leases opened now.
    /// @return feeBps The fee.
    function protocolFeeBps() external view returns (uint16 feeBps);
    /// @notice Recipient of protocol fees.
    /// @return treasury_ The treasury.
    function treasury() external view returns (address treasury_);
    /// @notice Payment token.
    /// @return token_ The token.
    function token() external view returns (IERC20 token_);
    /// @notice Registry the escrow reads nodes from.
    /// @return registry_ The registry.
    function registry() external view returns (IXnodeRegistry registry_);
}
