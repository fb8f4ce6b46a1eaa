// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/// @title IStaking — OPEN stake of Xnode operators: bond, unbond with a delay, lock as collateral, slash.
/// @notice Accounting per operator:
///   - `bonded`    : staked tokens not being unbonded (includes `locked`).
///   - `locked`    : part of `bonded` held as collateral by authorised contracts (registry bonds, tasks, leases).
///   - `unbonding` : tokens on their way out; withdrawable after `unbondingDelay`, still slashable until then.
///   free = bonded - locked (0 if a slash pushed bonded below locked).
/// Invariant: token balance of the contract == Σ (bonded + unbonding) over all operators.
interface IStaking {
    /// @notice Reason codes for `slash`. Equivocation is provable from two signatures and is uncapped.
    /// 1 = equivocation, 2 = wrong result, 3 = no-show, 4 = resource proof failed, 5 = other/governance.

    struct StakeInfo {
        uint256 bonded;
        uint256 locked;
        uint256 unbonding;
        uint64 unbondingReleaseAt;
    }

    /// @notice Amount is zero.
    error StakingZeroAmount();
    /// @notice Operator asked to unbond or lock more than its free stake.
    error StakingInsufficientFreeStake(address operator, uint256 free, uint256 needed);
    /// @notice Withdraw called before the unbonding delay elapsed.
    error StakingUnbondingNotReleased(address operator, uint64 releaseAt, uint64 now_);
    /// @notice Withdraw called with nothing unbonding.
    error StakingNothingToWithdraw(address operator);
    /// @notice A locker tried to unlock more than it locked for that operator.
    error StakingUnlockExceedsLock(address locker, address operator, uint256 lockedByLocker, uint256 amount);
    /// @notice Parameter outside its allowed range.
    error StakingInvalidParameter(bytes32 name, uint256 value);
    /// @notice Unknown slash reason code.
    error StakingInvalidReason(uint8 reasonCode);

    event Staked(address indexed operator, address indexed payer, uint256 amount, uint256 bonded);
    event UnbondRequested(address indexed operator, uint256 amount, uint256 unbonding, uint64 releaseAt);
    event Withdrawn(address indexed operator, uint256 amount);
    event StakeLocked(address indexed locker, address indexed operator, uint256 amount, bytes32 indexed ref);
    event StakeUnlocked(address indexed locker, address indexed operator, uint256 amount, bytes32 indexed ref);
    event Slashed(
        address indexed operator,
        uint256 amount,
        uint8 indexed reasonCode,
        bytes32 evidenceHash,
        address indexed beneficiary,
        uint256 beneficiaryAmount,
        uint256 treasuryAmount
    );
    event UnbondingDelaySet(uint64 delay);
    event SlashParametersSet(uint16 maxSlashBps, uint16 beneficiaryShareBps);
    event TreasurySet(address treasury);

    /// @notice Stake `amount` for the caller (requires ERC-20 allowance).
    function stake(uint256 amount) external;
    /// @notice Stake `amount` for `operator`, paid by the caller.
    function stakeFor(address operator, uint256 amount) external;
    /// @notice Stake using an ERC-2612 permit instead of a prior approval.
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
    /// @notice Move `amount` of free stake into unbonding; restarts the delay for the whole unbonding amount.
    function requestUnbond(uint256 amount) external;
    /// @notice Withdraw all unbonding stake once released. Returns the amount sent.
    function withdraw() external returns (uint256 amount);
    /// @notice Lock free stake of `operator` as collateral (LOCKER_ROLE).
    function lock(address operator, uint256 amount, bytes32 ref) external;
    /// @notice Release collateral previously locked by the caller (LOCKER_ROLE).
    function unlock(address operator, uint256 amount, bytes32 ref) external;
    /// @notice Slash `operator` (SLASHER_ROLE). Capped at maxSlashBps of its stake unless equivocation.
    /// @return slashed The amount actually taken (may be lower than `amount` because of the cap or the balance).
    function slash(address operator, uint256 amount, uint8 reasonCode, bytes32 evidenceHash, address beneficiary)
        external
        returns (uint256 slashed);

    function stakeOf(address operator) external view returns (StakeInfo memory);
    function freeStakeOf(address operator) external view returns (uint256);
    function lockedBy(address locker, address operator) external view returns (uint256);
    function unbondingDelay() external view returns (uint64);
}
