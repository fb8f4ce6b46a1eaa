// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IStaking} from "./interfaces/IStaking.sol";

/// @title Staking — OPEN stake of Xnode operators.
/// @notice Operators bond OPEN; authorised contracts (LOCKER_ROLE) lock part of it as collateral; leaving goes
/// through an unbonding delay during which the stake is still slashable; SLASHER_ROLE contracts slash provable
/// faults, paying part of the slash to whoever proved the fault and the rest to the treasury.
/// @dev Token balance == Σ(bonded + unbonding) over all operators (plus anything sent directly to the contract,
/// which is never credited to anyone). Slashing leaves `locked` untouched, so after a slash `locked` may exceed
/// `bonded`; free stake is then 0 until the lockers release their collateral or the operator stakes more.
contract Staking is IStaking, AccessControl, ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice Contracts that may lock / unlock operator stake as collateral (registry, tasks, leases).
    bytes32 public constant LOCKER_ROLE = keccak256("LOCKER_ROLE");
    /// @notice Contracts that may slash operator stake (task manager, resource proofs, governance).
    bytes32 public constant SLASHER_ROLE = keccak256("SLASHER_ROLE");

    /// @notice Two conflicting signed statements for the same round; provable, therefore uncapped.
    uint8 public constant REASON_EQUIVOCATION = 1;
    /// @notice Result outvoted by the quorum.
    uint8 public constant REASON_WRONG_RESULT = 2;
    /// @notice Assigned work not delivered before its deadline.
    uint8 public constant REASON_NO_SHOW = 3;
    /// @notice Missed or failed proof of resource.
    uint8 public constant REASON_RESOURCE_PROOF_FAILED = 4;
    /// @notice Anything else decided by governance.
    uint8 public constant REASON_OTHER = 5;

    /// @notice Denominator of every basis-point parameter.
    uint16 public constant BPS = 10_000;
    /// @notice Shortest allowed unbonding delay.
    uint64 public constant MIN_UNBONDING_DELAY = 1 days;
    /// @notice Longest allowed unbonding delay.
    uint64 public constant MAX_UNBONDING_DELAY = 90 days;
    /// @notice Unbonding delay at deployment: longer than any task or dispute window we run (hours to a day).
    uint64 public constant DEFAULT_UNBONDING_DELAY = 7 days;
    /// @notice Highest value `maxSlashBps` may be set to (50 %).
    uint16 public constant MAX_SLASH_BPS_LIMIT = 5_000;
    /// @notice `maxSlashBps` at deployment (10 % of an operator's stake per non-equivocation slash).
    uint16 public constant DEFAULT_MAX_SLASH_BPS = 1_000;
    /// @notice `beneficiaryShareBps` at deployment (half of each slash to whoever proved the fault).
    uint16 public constant DEFAULT_BENEFICIARY_SHARE_BPS = 5_000;

    IERC20 private immutable TOKEN;
    /// @inheritdoc IStaking
    address public treasury;
    /// @inheritdoc IStaking
    uint64 public unbondingDelay;
    /// @inheritdoc IStaking
    uint16 public maxSlashBps;
    /// @inheritdoc IStaking
    uint16 public beneficiaryShareBps;

    /// @inheritdoc IStaking
    mapping(address locker => mapping(address operator => uint256 amount)) public lockedBy;

    mapping(address operator => StakeInfo info) private _stakes;

    /// @notice Deploy with the default parameters (7-day unbonding, 10 % slash cap, 50 % beneficiary share).
    /// @param token_ The staked token (OPEN).
    /// @param admin Receives DEFAULT_ADMIN_ROLE (sets parameters and grants LOCKER_ROLE / SLASHER_ROLE).
    /// @param treasury_ Receives the protocol's share of slashes.
    constructor(IERC20 token_, address admin, address treasury_) {
        if (address(token_) == address(0) || admin == address(0) || treasury_ == address(0)) {
            revert StakingZeroAddress();
        }
        TOKEN = token_;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setUnbondingDelay(DEFAULT_UNBONDING_DELAY);
        _setSlashParameters(DEFAULT_MAX_SLASH_BPS, DEFAULT_BENEFICIARY_SHARE_BPS);
    }

    // ---------------------------------------------------------------- operator

    /// @inheritdoc IStaking
    function stake(uint256 amount) external nonReentrant {
        _stake(msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IStaking
    function stakeFor(address operator, uint256 amount) external nonReentrant {
        _stake(operator, msg.sender, amount);
    }

    /// @inheritdoc IStaking
    /// @dev The permit is wrapped in try/catch: if someone front-runs it (submitting the same permit first), the
    /// allowance is already in place and the stake still goes through; a genuinely missing allowance makes the
    /// transferFrom revert instead.
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external nonReentrant {
        // solhint-disable-next-line no-empty-blocks
        try IERC20Permit(address(TOKEN)).permit(msg.sender, address(this), amount, deadline, v, r, s) {} catch {}
        _stake(msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IStaking
    function requestUnbond(uint256 amount) external {
        if (amount == 0) revert StakingZeroAmount();
        StakeInfo storage info = _stakes[msg.sender];
        uint256 free = _free(info);
        if (amount > free) revert StakingInsufficientFreeStake(msg.sender, free, amount);

        info.bonded -= amount;
        info.unbonding += amount;
        uint64 releaseAt = uint64(block.timestamp) + unbondingDelay;
        info.unbondingReleaseAt = releaseAt;
        emit UnbondRequested(msg.sender, amount, info.unbonding, releaseAt);
    }

    /// @inheritdoc IStaking
    function withdraw() external nonReentrant returns (uint256 amount) {
        StakeInfo storage info = _stakes[msg.sender];
        amount = info.unbonding;
        if (amount == 0) revert StakingNothingToWithdraw(msg.sender);
        uint64 releaseAt = info.unbondingReleaseAt;
        if (block.timestamp < releaseAt) {
            revert StakingUnbondingNotReleased(msg.sender, releaseAt, uint64(block.timestamp));
        }

        info.unbonding = 0;
        info.unbondingReleaseAt = 0;
        emit Withdrawn(msg.sender, amount);
        TOKEN.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- lockers

    /// @inheritdoc IStaking
    function lock(address operator, uint256 amount, bytes32 ref) external onlyRole(LOCKER_ROLE) {
        if (amount == 0) revert StakingZeroAmount();
        StakeInfo storage info = _stakes[operator];
        uint256 free = _free(info);
        if (amount > free) revert StakingInsufficientFreeStake(operator, free, amount);

        info.locked += amount;
        lockedBy[msg.sender][operator] += amount;
        emit StakeLocked(msg.sender, operator, amount, ref);
    }

    /// @inheritdoc IStaking
    function unlock(address operator, uint256 amount, bytes32 ref) external onlyRole(LOCKER_ROLE) {
        if (amount == 0) revert StakingZeroAmount();
        uint256 held = lockedBy[msg.sender][operator];
        if (amount > held) revert StakingUnlockExceedsLock(msg.sender, operator, held, amount);

        lockedBy[msg.sender][operator] = held - amount;
        _stakes[operator].locked -= amount;
        emit StakeUnlocked(msg.sender, operator, amount, ref);
    }

    // ---------------------------------------------------------------- slashers

    /// @inheritdoc IStaking
    /// @dev slashed = min(amount, cap, bonded + unbonding) where cap = floor(maxSlashBps × (bonded + unbonding))
    /// unless `reasonCode` is REASON_EQUIVOCATION. Taken from bonded first, then from unbonding. The beneficiary
    /// gets floor(slashed × beneficiaryShareBps) (nothing if `beneficiary` is zero); the treasury gets the rest,
    /// rounding dust included, so the two parts always add up to `slashed`. Slashing an operator with no stake
    /// returns 0 and changes nothing (no event).
    function slash(address operator, uint256 amount, uint8 reasonCode, bytes32 evidenceHash, address beneficiary)
        external
        onlyRole(SLASHER_ROLE)
        nonReentrant
        returns (uint256 slashed)
    {
        if (reasonCode < REASON_EQUIVOCATION || reasonCode > REASON_OTHER) revert StakingInvalidReason(reasonCode);
        if (amount == 0) revert StakingZeroAmount();

        StakeInfo storage info = _stakes[operator];
        slashed = _slashableAmount(info.bonded + info.unbonding, amount, reasonCode);
        if (slashed == 0) return 0;

        _take(info, slashed);
        uint256 beneficiaryAmount =
            beneficiary == address(0) ? 0 : Math.mulDiv(slashed, beneficiaryShareBps, BPS);
        uint256 treasuryAmount = slashed - beneficiaryAmount;
        emit Slashed(operator, slashed, reasonCode, evidenceHash, beneficiary, beneficiaryAmount, treasuryAmount);

        if (beneficiaryAmount != 0) TOKEN.safeTransfer(beneficiary, beneficiaryAmount);
        if (treasuryAmount != 0) TOKEN.safeTransfer(treasury, treasuryAmount);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IStaking
    function setUnbondingDelay(uint64 delay) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setUnbondingDelay(delay);
    }

    /// @inheritdoc IStaking
    function setSlashParameters(uint16 maxSlashBps_, uint16 beneficiaryShareBps_)
        external
        onlyRole(DEFAULT_ADMIN_ROLE)
    {
        _setSlashParameters(maxSlashBps_, beneficiaryShareBps_);
    }

    /// @inheritdoc IStaking
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IStaking
    function stakeOf(address operator) external view returns (StakeInfo memory) {
        return _stakes[operator];
    }

    /// @inheritdoc IStaking
    function freeStakeOf(address operator) external view returns (uint256) {
        return _free(_stakes[operator]);
    }

    /// @inheritdoc IStaking
    function token() external view returns (IERC20) {
        return TOKEN;
    }

    // ---------------------------------------------------------------- internal

    function _stake(address operator, address payer, uint256 amount) private {
        if (operator == address(0)) revert StakingZeroAddress();
        if (amount == 0) revert StakingZeroAmount();

        uint256 bonded = _stakes[operator].bonded + amount;
        _stakes[operator].bonded = bonded;
        emit Staked(operator, payer, amount, bonded);
        TOKEN.safeTransferFrom(payer, address(this), amount);
    }

    /// @dev Amount a slash of `requested` actually takes from a stake of `total` for `reasonCode`.
    function _slashableAmount(uint256 total, uint256 requested, uint8 reasonCode) private view returns (uint256) {
        uint256 slashed = Math.min(requested, total);
        if (reasonCode != REASON_EQUIVOCATION) slashed = Math.min(slashed, Math.mulDiv(total, maxSlashBps, BPS));
        return slashed;
    }

    /// @dev Remove `amount` (≤ bonded + unbonding) from bonded first, then from unbonding.
    function _take(StakeInfo storage info, uint256 amount) private {
        uint256 fromBonded = Math.min(amount, info.bonded);
        info.bonded -= fromBonded;
        uint256 fromUnbonding = amount - fromBonded;
        if (fromUnbonding != 0) {
            info.unbonding -= fromUnbonding;
            if (info.unbonding == 0) info.unbondingReleaseAt = 0;
        }
    }

    function _free(StakeInfo storage info) private view returns (uint256) {
        uint256 bonded = info.bonded;
        uint256 locked = info.locked;
        return bonded > locked ? bonded - locked : 0;
    }

    function _setUnbondingDelay(uint64 delay) private {
        if (delay < MIN_UNBONDING_DELAY || delay > MAX_UNBONDING_DELAY) {
            revert StakingInvalidParameter("unbondingDelay", delay);
        }
        unbondingDelay = delay;
        emit UnbondingDelaySet(delay);
    }

    function _setSlashParameters(uint16 maxSlashBps_, uint16 beneficiaryShareBps_) private {
        if (maxSlashBps_ > MAX_SLASH_BPS_LIMIT) revert StakingInvalidParameter("maxSlashBps", maxSlashBps_);
        if (beneficiaryShareBps_ > BPS) revert StakingInvalidParameter("beneficiaryShareBps", beneficiaryShareBps_);
        maxSlashBps = maxSlashBps_;
        beneficiaryShareBps = beneficiaryShareBps_;
        emit SlashParametersSet(maxSlashBps_, beneficiaryShareBps_);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert StakingZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
