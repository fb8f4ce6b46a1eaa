// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IServiceRegistry} from "./IServiceRegistry.sol";
import {IStaking} from "./IStaking.sol";
import {IXnodeRegistry} from "./IXnodeRegistry.sol";

/// @title IUsageEscrow — per-call payment: consumers escrow tokens per service, providers claim served calls.
/// @notice Settlement of a service's `perCall` price (ServiceRegistry pricing). The evidence of a call is the
/// consumer's provider-bound access token (docs/protocol.md §8, wire version 2): the EIP-712 message
/// `ProviderAccessToken(uint256 serviceId,address consumer,address provider,uint64 expiry,bytes32 nonce)` signed
/// by `consumer` under the domain ("DSMP Access", "1", chainid, ServiceRegistry) — the registry's address, not
/// this contract's, so the token a gateway sends to a provider is also that provider's claim. `provider` is not
/// in the calldata: a claim verifies each token with `provider` = `msg.sender`, so only the node a token was
/// signed for can claim it (a node copying a pending claim from the mempool gets `BadSignature`).
///
/// Escrow is per (service, consumer). A deposit records the price the consumer agrees to: the service's
/// `perCall` at that moment (`pricePerCall`; the deposit reverts above the caller's `maxPricePerCall`). A claim
/// pays min(agreed price, current `perCall`) per call, so an owner raising the price cannot drain escrow
/// funded at the old price; the consumer accepts a new price by depositing again (any amount, even 0).
/// The agreed price of a call is the one in force when its token was signed: a token whose `expiry` is before
/// the latest change of agreement (`priceAgreedAt`) was signed before it and pays `previousPricePerCall` (the
/// first deposit sets both to its price); one expiring at or after it pays `pricePerCall`. Tokens live at most
/// 5 minutes (gateways sign 60 s ones), so only calls signed in that span before a re-agreement can pay the new
/// price. The boundary compares the consumer's clock (expiry) with block time: on a chain whose clock runs ahead
/// by more than a token's lifetime, calls after a re-agreement pay the earlier price.
///
/// A claim is sent by the node that served the calls (its node key, `msg.sender`): an active Xnode whose
/// operator's bonded stake covers its locked stake and the service's `minProviderStake`. The payment goes to
/// the node's operator minus the protocol fee (ceil(gross × protocolFeeBps / 10 000), to the treasury) — the
/// provider that did the work is paid, as task rewards are.
///
/// Each (consumer, provider, nonce) is paid at most once, across all services: the provider a token names serves
/// and is paid for it once, and the same nonce signed for two providers is two calls. Within one claim, calls that cannot be paid are skipped with a `CallRejected` event and never
/// revert the batch; only `Paid` consumes the nonce, so calls rejected for `InsufficientBalance` or `NoEscrow`
/// may be claimed again after the consumer tops up (while not stale).
///
/// Withdrawals are delayed: `requestWithdrawal` starts `withdrawalDelay`, during which providers (which watch
/// `WithdrawalRequested`) claim what they served; `withdraw` then pays min(requested, balance).
/// A token is stale — no longer claimable — once block.timestamp > expiry + claimWindow.
///
/// Invariant: token balance of this contract == Σ balance over all accounts.
interface IUsageEscrow {
    /// @notice Escrow of one (service, consumer) pair.
    /// @param balance Tokens available to claims (pending withdrawal included until withdrawn).
    /// @param pricePerCall Price per call the consumer agreed to at its last deposit (0 = never deposited).
    /// @param pendingWithdrawal Amount requested for withdrawal (0 = none).
    /// @param withdrawableAt When `withdraw` may be called for the pending request.
    /// @param priceAgreedAt When `pricePerCall` last changed (block timestamp of that deposit).
    /// @param previousPricePerCall The agreed price before that change (the first deposit's own price after it).
    struct Account {
        uint128 balance;
        uint128 pricePerCall;
        uint128 pendingWithdrawal;
        uint64 withdrawableAt;
        uint64 priceAgreedAt;
        uint128 previousPricePerCall;
    }

    /// @notice One served call: the access token's fields other than the service id and the provider (the
    /// claiming node), and its signature.
    /// @param signature 65-byte (r, s, v) secp256k1 signature by `consumer` over the EIP-712 digest.
    struct Call {
        address consumer;
        uint64 expiry;
        bytes32 nonce;
        bytes signature;
    }

    /// @notice ERC-2612 permit for the payment token (owner = caller, spender = this contract).
    struct Permit {
        uint256 value;
        uint256 deadline;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice Why a call in a claim was not paid.
    /// Stale: block.timestamp > expiry + claimWindow. BadSignature: not a valid signature by `consumer`
    /// (malformed, high s, another signer, or a token bound to another provider). AlreadyPaid: (consumer, this node, nonce) was paid before.
    /// NoEscrow: the consumer never deposited for this service, or the service's `perCall` is now 0.
    /// InsufficientBalance: balance below the price.
    enum RejectReason {
        None,
        Stale,
        BadSignature,
        AlreadyPaid,
        NoEscrow,
        InsufficientBalance
    }

    /// @notice Zero address where an account or contract is required.
    error UsageEscrowZeroAddress();
    /// @notice Protocol fee above MAX_PROTOCOL_FEE_BPS.
    error UsageEscrowFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice The service has no per-call price (deposits only go to per-call services).
    error UsageEscrowNotPerCall(uint256 serviceId);
    /// @notice The service is retired: no new deposits.
    error UsageEscrowServiceRetired(uint256 serviceId);
    /// @notice The current per-call price exceeds what the depositor accepted.
    error UsageEscrowPriceAboveMax(uint256 serviceId, uint256 price, uint256 maxPrice);
    /// @notice A withdrawal of zero, or more than the balance.
    error UsageEscrowBadWithdrawalAmount(uint256 serviceId, uint256 requested, uint256 balance);
    /// @notice `withdraw` or `cancelWithdrawal` without a pending request.
    error UsageEscrowNoPendingWithdrawal(uint256 serviceId, address consumer);
    /// @notice `withdraw` before the delay has passed.
    error UsageEscrowWithdrawalLocked(uint256 serviceId, address consumer, uint64 withdrawableAt);
    /// @notice The claimer is not an active Xnode meeting the service's stake requirement.
    error UsageEscrowNotServingNode(uint256 serviceId, address node);
    /// @notice A claim with no calls, or more than MAX_CALLS_PER_CLAIM.
    error UsageEscrowBadBatchSize(uint256 count, uint256 max);
    /// @notice A deposit above 2^128 − 1 in total.
    error UsageEscrowBalanceOverflow(uint256 serviceId, address consumer);

    /// @notice `payer` added `amount` to `consumer`'s escrow for the service; it now holds `balance` and the
    /// agreed price is `pricePerCall`.
    event Deposited(
        uint256 indexed serviceId,
        address indexed consumer,
        address indexed payer,
        uint256 amount,
        uint128 balance,
        uint128 pricePerCall
    );
    /// @notice The consumer asked to withdraw `amount`, possible from `withdrawableAt` (replaces any earlier request).
    event WithdrawalRequested(uint256 indexed serviceId, address indexed consumer, uint128 amount, uint64 withdrawableAt);
    /// @notice The consumer cancelled its pending withdrawal request.
    event WithdrawalCancelled(uint256 indexed serviceId, address indexed consumer);
    /// @notice The consumer withdrew `amount`; `balance` remains.
    event Withdrawn(uint256 indexed serviceId, address indexed consumer, uint256 amount, uint128 balance);
    /// @notice One call was paid: `price` moved from the consumer's escrow (now `balance`) to `node`'s claim.
    event CallPaid(
        uint256 indexed serviceId,
        address indexed consumer,
        address indexed node,
        bytes32 nonce,
        uint256 price,
        uint128 balance
    );
    /// @notice One call of a claim by `node` was skipped for `reason`.
    event CallRejected(
        uint256 indexed serviceId,
        address indexed consumer,
        address indexed node,
        bytes32 nonce,
        RejectReason reason
    );
    /// @notice A claim by `node` paid `paidCalls` calls: `operatorAmount` to `operator`, `fee` to the treasury.
    event Claimed(
        uint256 indexed serviceId,
        address indexed node,
        address indexed operator,
        uint256 paidCalls,
        uint256 rejectedCalls,
        uint256 operatorAmount,
        uint256 fee
    );
    /// @notice New protocol fee in basis points.
    event ProtocolFeeSet(uint16 feeBps);
    /// @notice New fee recipient.
    event TreasurySet(address treasury);

    /// @notice Add `amount` to the caller's escrow for a per-call service and agree to its current `perCall`.
    /// @param maxPricePerCall Reverts if the current price is higher (protects against owner front-running).
    function deposit(uint256 serviceId, uint256 amount, uint256 maxPricePerCall) external;

    /// @notice Add `amount` to `consumer`'s escrow, paid by the caller. Does not change the agreed price
    /// (only the consumer agrees to prices), except that a first deposit for a consumer with no agreed price
    /// records the current price when it is ≤ `maxPricePerCall`.
    function depositFor(uint256 serviceId, address consumer, uint256 amount, uint256 maxPricePerCall) external;

    /// @notice `deposit` after an ERC-2612 permit. A failing permit is ignored (it may have been front-run);
    /// the allowance then decides.
    function depositWithPermit(uint256 serviceId, uint256 amount, uint256 maxPricePerCall, Permit calldata permit)
        external;

    /// @notice Ask to withdraw `amount` (≤ balance, > 0) after `withdrawalDelay`; replaces an earlier request.
    function requestWithdrawal(uint256 serviceId, uint256 amount) external;

    /// @notice Drop the caller's pending withdrawal request.
    function cancelWithdrawal(uint256 serviceId) external;

    /// @notice Pay the caller min(requested, balance) once the delay has passed; clears the request.
    /// @return amount Tokens sent to the caller.
    function withdraw(uint256 serviceId) external returns (uint256 amount);

    /// @notice Claim payment for calls the caller (a node key) served for `serviceId`. At most
    /// MAX_CALLS_PER_CLAIM calls; unpayable calls are skipped (see `RejectReason`).
    /// @return paidCalls Calls paid.
    /// @return gross Total charged to consumers (operator amount + fee).
    function claim(uint256 serviceId, Call[] calldata calls) external returns (uint256 paidCalls, uint256 gross);

    /// @notice Set the protocol fee in basis points (DEFAULT_ADMIN_ROLE; at most MAX_PROTOCOL_FEE_BPS).
    function setProtocolFee(uint16 feeBps) external;

    /// @notice Set the fee recipient (DEFAULT_ADMIN_ROLE).
    function setTreasury(address treasury) external;

    /// @notice The payment token.
    function token() external view returns (IERC20);
    /// @notice The service registry read for prices and stake requirements; also the access tokens' domain.
    function services() external view returns (IServiceRegistry);
    /// @notice The node registry read to admit claimers.
    function xnodes() external view returns (IXnodeRegistry);
    /// @notice The staking contract read for the claimer's operator stake.
    function staking() external view returns (IStaking);
    /// @notice Current protocol fee in basis points.
    function protocolFeeBps() external view returns (uint16);
    /// @notice Current fee recipient.
    function treasury() external view returns (address);
    /// @notice Seconds between `requestWithdrawal` and `withdraw`.
    function withdrawalDelay() external view returns (uint64);
    /// @notice Seconds after a token's expiry during which it can still be claimed.
    function claimWindow() external view returns (uint64);

    /// @notice The escrow of (service, consumer).
    function accountOf(uint256 serviceId, address consumer) external view returns (Account memory);
    /// @notice Whether the call (consumer, nonce) served by `provider` (a node address) has been paid.
    function isPaid(address consumer, address provider, bytes32 nonce) external view returns (bool);
    /// @notice EIP-712 domain separator of access tokens: ("DSMP Access", "1", block.chainid, services()).
    function accessDomainSeparator() external view returns (bytes32);
    /// @notice EIP-712 digest a provider-bound access token for (serviceId, consumer, provider, expiry, nonce)
    /// is signed over; `claim` checks calls against it with `provider` = the claiming node.
    function accessTokenDigest(uint256 serviceId, address consumer, address provider, uint64 expiry, bytes32 nonce)
        external
        view
        returns (bytes32);
}
