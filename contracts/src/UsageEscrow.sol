// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {IServiceRegistry} from "./interfaces/IServiceRegistry.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {IUsageEscrow} from "./interfaces/IUsageEscrow.sol";
import {IXnodeRegistry} from "./interfaces/IXnodeRegistry.sol";
import {StreamMath} from "./libraries/StreamMath.sol";

/// @title UsageEscrow — per-call payment of services from consumer escrow, claimed by the nodes that served.
/// @notice See IUsageEscrow. Amounts are in the token's smallest unit, so 6-decimal tokens work as well as OPEN.
/// The access tokens' EIP-712 domain is the ServiceRegistry's ("DSMP Access", "1", chainid, services), not this
/// contract's: the provider-bound token a gateway sends with a request is, unchanged, that provider's evidence here.
contract UsageEscrow is IUsageEscrow, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Highest protocol fee the admin can set (10 %).
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 1_000;
    /// @notice Most calls one `claim` may carry (bounds its gas: ≈ 30–36 k per call).
    uint256 public constant MAX_CALLS_PER_CLAIM = 256;

    bytes32 private constant DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant ACCESS_NAME_HASH = keccak256("DSMP Access");
    bytes32 private constant ACCESS_VERSION_HASH = keccak256("1");
    /// @dev Only provider-bound tokens are evidence: `provider` is the claiming node (`msg.sender`), so a token can
    /// be claimed by the node it was signed for and by no other (not by one copying a pending claim).
    bytes32 private constant PROVIDER_ACCESS_TOKEN_TYPEHASH = keccak256(
        "ProviderAccessToken(uint256 serviceId,address consumer,address provider,uint64 expiry,bytes32 nonce)"
    );

    /// @inheritdoc IUsageEscrow
    IERC20 public immutable token;
    /// @inheritdoc IUsageEscrow
    IServiceRegistry public immutable services;
    /// @inheritdoc IUsageEscrow
    IXnodeRegistry public immutable xnodes;
    /// @inheritdoc IUsageEscrow
    IStaking public immutable staking;
    /// @inheritdoc IUsageEscrow
    uint64 public immutable withdrawalDelay;
    /// @inheritdoc IUsageEscrow
    uint64 public immutable claimWindow;
    /// @inheritdoc IUsageEscrow
    uint16 public protocolFeeBps;
    /// @inheritdoc IUsageEscrow
    address public treasury;

    bytes32 private immutable _cachedDomainSeparator;
    uint256 private immutable _cachedChainId;

    mapping(uint256 serviceId => mapping(address consumer => Account)) private _accounts;
    /// @dev Paid calls, keyed by consumer and `_paidKey(provider, nonce)`: a token names its provider, so the same
    /// nonce signed for two providers is two calls (each served once, by the one provider it names).
    mapping(address consumer => mapping(bytes32 providerNonce => bool)) private _paid;

    /// @param token_ Payment token (OPEN or any plain ERC-20).
    /// @param services_ Service registry: prices, stake requirements, and the access tokens' EIP-712 domain.
    /// @param xnodes_ Node registry admitting claimers; its `staking()` is read for operator stake.
    /// @param admin Holder of DEFAULT_ADMIN_ROLE (fee and treasury).
    /// @param treasury_ Fee recipient.
    /// @param protocolFeeBps_ Protocol fee in basis points (deployments use 250 = 2.5 %; max 1 000).
    /// @param withdrawalDelay_ Seconds between `requestWithdrawal` and `withdraw` (deployments: 1 day; devnet 1 h).
    /// @param claimWindow_ Seconds after a token's expiry during which it can be claimed (deployments: 7 days).
    constructor(
        IERC20 token_,
        IServiceRegistry services_,
        IXnodeRegistry xnodes_,
        address admin,
        address treasury_,
        uint16 protocolFeeBps_,
        uint64 withdrawalDelay_,
        uint64 claimWindow_
    ) {
        if (
            address(token_) == address(0) || address(services_) == address(0) || address(xnodes_) == address(0)
                || admin == address(0)
        ) revert UsageEscrowZeroAddress();
        IStaking staking_ = xnodes_.staking();
        if (address(staking_) == address(0)) revert UsageEscrowZeroAddress();
        token = token_;
        services = services_;
        xnodes = xnodes_;
        staking = staking_;
        withdrawalDelay = withdrawalDelay_;
        claimWindow = claimWindow_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setProtocolFee(protocolFeeBps_);
    }

    // ─── Consumers ───────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IUsageEscrow
    function deposit(uint256 serviceId, uint256 amount, uint256 maxPricePerCall) external nonReentrant {
        _deposit(serviceId, msg.sender, amount, maxPricePerCall, true);
    }

    /// @inheritdoc IUsageEscrow
    function depositFor(uint256 serviceId, address consumer, uint256 amount, uint256 maxPricePerCall)
        external
        nonReentrant
    {
        if (consumer == address(0)) revert UsageEscrowZeroAddress();
        _deposit(serviceId, consumer, amount, maxPricePerCall, false);
    }

    /// @inheritdoc IUsageEscrow
    function depositWithPermit(uint256 serviceId, uint256 amount, uint256 maxPricePerCall, Permit calldata permit)
        external
        nonReentrant
    {
        _tryPermit(permit);
        _deposit(serviceId, msg.sender, amount, maxPricePerCall, true);
    }

    /// @inheritdoc IUsageEscrow
    function requestWithdrawal(uint256 serviceId, uint256 amount) external nonReentrant {
        Account storage account = _accounts[serviceId][msg.sender];
        uint128 balance = account.balance;
        if (amount == 0 || amount > balance) revert UsageEscrowBadWithdrawalAmount(serviceId, amount, balance);
        uint64 withdrawableAt = SafeCast.toUint64(block.timestamp + withdrawalDelay);
        account.pendingWithdrawal = uint128(amount); // amount <= balance < 2^128
        account.withdrawableAt = withdrawableAt;
        emit WithdrawalRequested(serviceId, msg.sender, uint128(amount), withdrawableAt);
    }

    /// @inheritdoc IUsageEscrow
    function cancelWithdrawal(uint256 serviceId) external nonReentrant {
        Account storage account = _accounts[serviceId][msg.sender];
        if (account.pendingWithdrawal == 0) revert UsageEscrowNoPendingWithdrawal(serviceId, msg.sender);
        account.pendingWithdrawal = 0;
        account.withdrawableAt = 0;
        emit WithdrawalCancelled(serviceId, msg.sender);
    }

    /// @inheritdoc IUsageEscrow
    function withdraw(uint256 serviceId) external nonReentrant returns (uint256 amount) {
        Account storage account = _accounts[serviceId][msg.sender];
        uint128 pending = account.pendingWithdrawal;
        if (pending == 0) revert UsageEscrowNoPendingWithdrawal(serviceId, msg.sender);
        uint64 withdrawableAt = account.withdrawableAt;
        if (block.timestamp < withdrawableAt) {
            revert UsageEscrowWithdrawalLocked(serviceId, msg.sender, withdrawableAt);
        }
        uint128 balance = account.balance;
        // Claims during the delay may have spent part of the requested amount.
        uint128 paid = pending < balance ? pending : balance;
        balance -= paid;
        account.balance = balance;
        account.pendingWithdrawal = 0;
        account.withdrawableAt = 0;
        amount = paid;
        emit Withdrawn(serviceId, msg.sender, amount, balance);

        if (amount > 0) token.safeTransfer(msg.sender, amount);
    }

    // ─── Providers ───────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IUsageEscrow
    function claim(uint256 serviceId, Call[] calldata calls)
        external
        nonReentrant
        returns (uint256 paidCalls, uint256 gross)
    {
        uint256 count = calls.length;
        if (count == 0 || count > MAX_CALLS_PER_CLAIM) revert UsageEscrowBadBatchSize(count, MAX_CALLS_PER_CLAIM);
        // Price and stake requirement only: the service's strings (name, metadata URI) are not copied, so their
        // length cannot raise a claim's gas. Reverts for an unknown id.
        (uint128 perCall, uint256 minProviderStake) = services.perCallTermsOf(serviceId);
        address operator = _servingOperator(serviceId, minProviderStake);

        uint256 currentPrice = perCall;
        bytes32 domainSeparator = _domainSeparator();
        for (uint256 i = 0; i < count; ++i) {
            uint256 price = _claimCall(serviceId, calls[i], currentPrice, domainSeparator);
            if (price > 0) {
                ++paidCalls;
                gross += price;
            }
        }

        uint256 fee = StreamMath.fee(gross, protocolFeeBps);
        uint256 operatorAmount = gross - fee;
        emit Claimed(serviceId, msg.sender, operator, paidCalls, count - paidCalls, operatorAmount, fee);

        if (fee > 0) token.safeTransfer(treasury, fee);
        if (operatorAmount > 0) token.safeTransfer(operator, operatorAmount);
    }

    // ─── Admin ───────────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IUsageEscrow
    function setProtocolFee(uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        _setProtocolFee(feeBps);
    }

    /// @inheritdoc IUsageEscrow
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) nonReentrant {
        _setTreasury(treasury_);
    }

    // ─── Views ───────────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IUsageEscrow
    function accountOf(uint256 serviceId, address consumer) external view returns (Account memory) {
        return _accounts[serviceId][consumer];
    }

    /// @inheritdoc IUsageEscrow
    function isPaid(address consumer, address provider, bytes32 nonce) external view returns (bool) {
        return _paid[consumer][_paidKey(provider, nonce)];
    }

    /// @inheritdoc IUsageEscrow
    function accessDomainSeparator() external view returns (bytes32) {
        return _domainSeparator();
    }

    /// @inheritdoc IUsageEscrow
    function accessTokenDigest(uint256 serviceId, address consumer, address provider, uint64 expiry, bytes32 nonce)
        external
        view
        returns (bytes32)
    {
        return _digest(_domainSeparator(), serviceId, consumer, provider, expiry, nonce);
    }

    // ─── Internals ───────────────────────────────────────────────────────────────────────────────────

    function _deposit(uint256 serviceId, address consumer, uint256 amount, uint256 maxPricePerCall, bool agree)
        private
    {
        IServiceRegistry.ServiceTerms memory terms = services.termsOf(serviceId); // reverts for an unknown id
        if (terms.status == IServiceRegistry.ServiceStatus.Retired) revert UsageEscrowServiceRetired(serviceId);
        uint128 price = terms.pricing.perCall;
        if (price == 0) revert UsageEscrowNotPerCall(serviceId);
        if (price > maxPricePerCall) revert UsageEscrowPriceAboveMax(serviceId, price, maxPricePerCall);

        Account storage account = _accounts[serviceId][consumer];
        uint128 balance = account.balance;
        if (amount > type(uint128).max - balance) revert UsageEscrowBalanceOverflow(serviceId, consumer);
        balance += uint128(amount);
        account.balance = balance;
        // Only the consumer agrees to prices; a third party's deposit records one only where none was agreed.
        uint128 agreed = account.pricePerCall;
        if ((agree || agreed == 0) && agreed != price) {
            // Calls whose tokens expired before now were signed under the old agreement and keep its price. The
            // first agreement has no earlier one: it also prices older tokens (none were served without escrow,
            // and a chain clock running ahead of the consumers' must not turn its calls into NoEscrow).
            account.previousPricePerCall = agreed == 0 ? price : agreed;
            account.priceAgreedAt = uint64(block.timestamp);
            account.pricePerCall = price;
            agreed = price;
        }
        emit Deposited(serviceId, consumer, msg.sender, amount, balance, agreed);

        if (amount > 0) token.safeTransferFrom(msg.sender, address(this), amount);
    }

    /// @dev Operator of the caller if the caller is an active node whose operator's bonded stake covers both its
    /// locked stake and `minProviderStake`; reverts otherwise.
    function _servingOperator(uint256 serviceId, uint256 minProviderStake) private view returns (address operator) {
        // assignmentInfo = operatorOf + the status isActive reads, in one call.
        IXnodeRegistry.NodeStatus status;
        (operator, status,,) = xnodes.assignmentInfo(msg.sender);
        if (status != IXnodeRegistry.NodeStatus.Active) revert UsageEscrowNotServingNode(serviceId, msg.sender);
        IStaking.StakeInfo memory stake = staking.stakeOf(operator);
        if (stake.bonded < stake.locked || stake.bonded < minProviderStake) {
            revert UsageEscrowNotServingNode(serviceId, msg.sender);
        }
    }

    /// @dev Pay one call if it can be paid; emits CallPaid or CallRejected. Returns the price paid (0 if rejected).
    function _claimCall(uint256 serviceId, Call calldata call, uint256 currentPrice, bytes32 domainSeparator)
        private
        returns (uint256 price)
    {
        address consumer = call.consumer;
        bytes32 paidKey = _paidKey(msg.sender, call.nonce);
        RejectReason reason;
        Account storage account = _accounts[serviceId][consumer];
        if (block.timestamp > uint256(call.expiry) + claimWindow) {
            reason = RejectReason.Stale;
        } else if (!_signedBy(
                consumer, _digest(domainSeparator, serviceId, consumer, msg.sender, call.expiry, call.nonce), call.signature
            )) {
            reason = RejectReason.BadSignature;
        } else if (_paid[consumer][paidKey]) {
            reason = RejectReason.AlreadyPaid;
        } else {
            // The agreement in force when the token was signed (see IUsageEscrow: price eras).
            uint256 agreed = call.expiry < account.priceAgreedAt ? account.previousPricePerCall : account.pricePerCall;
            if (agreed == 0 || currentPrice == 0) {
                reason = RejectReason.NoEscrow;
            } else {
                price = agreed < currentPrice ? agreed : currentPrice;
                uint128 balance = account.balance;
                if (balance < price) {
                    reason = RejectReason.InsufficientBalance;
                    price = 0;
                } else {
                    _paid[consumer][paidKey] = true;
                    balance -= uint128(price); // price <= balance < 2^128
                    account.balance = balance;
                    emit CallPaid(serviceId, consumer, msg.sender, call.nonce, price, balance);
                    return price;
                }
            }
        }
        emit CallRejected(serviceId, consumer, msg.sender, call.nonce, reason);
    }

    function _paidKey(address provider, bytes32 nonce) private pure returns (bytes32) {
        return keccak256(abi.encode(provider, nonce));
    }

    /// @dev Whether `signature` is a valid (low-s, 65-byte) signature of `digest` by `signer`. Never reverts.
    function _signedBy(address signer, bytes32 digest, bytes calldata signature) private pure returns (bool) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        return err == ECDSA.RecoverError.NoError && recovered == signer;
    }

    function _digest(
        bytes32 domainSeparator,
        uint256 serviceId,
        address consumer,
        address provider,
        uint64 expiry,
        bytes32 nonce
    ) private pure returns (bytes32) {
        bytes32 structHash =
            keccak256(abi.encode(PROVIDER_ACCESS_TOKEN_TYPEHASH, serviceId, consumer, provider, expiry, nonce));
        return MessageHashUtils.toTypedDataHash(domainSeparator, structHash);
    }

    /// @dev The cached separator, recomputed if the chain id changed (a fork), as OpenZeppelin's EIP712 does.
    function _domainSeparator() private view returns (bytes32) {
        if (block.chainid == _cachedChainId) return _cachedDomainSeparator;
        return _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(
            abi.encode(DOMAIN_TYPEHASH, ACCESS_NAME_HASH, ACCESS_VERSION_HASH, block.chainid, address(services))
        );
    }

    function _tryPermit(Permit calldata permit) private {
        try IERC20Permit(address(token)).permit(
            msg.sender, address(this), permit.value, permit.deadline, permit.v, permit.r, permit.s
        ) {} catch {} // solhint-disable-line no-empty-blocks
    }

    function _setProtocolFee(uint16 feeBps) private {
        if (feeBps > MAX_PROTOCOL_FEE_BPS) revert UsageEscrowFeeTooHigh(feeBps, MAX_PROTOCOL_FEE_BPS);
        protocolFeeBps = feeBps;
        emit ProtocolFeeSet(feeBps);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert UsageEscrowZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
