// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

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
    /// @notice A required address (token, admin, treasury, operator) is the zero address.
    error StakingZeroAddress();

    /// @notice `payer` added `amount` to the bonded stake of `operator`; `bonded` is the new total.
    event Staked(address indexed operator, address indexed payer, uint256 amount, uint256 bonded);
    /// @notice `amount` moved from bonded to unbonding; the whole `unbonding` total is released at `releaseAt`.
    event UnbondRequested(address indexed operator, uint256 amount, uint256 unbonding, uint64 releaseAt);
    /// @notice Released unbonding stake was sent back to `operator`.
    event Withdrawn(address indexed operator, uint256 amount);
    /// @notice `locker` locked `amount` of the free stake of `operator` as collateral for `ref`.
    event StakeLocked(address indexed locker, address indexed operator, uint256 amount, bytes32 indexed ref);
    /// @notice `locker` released `amount` of collateral it had locked for `operator` under `ref`.
    event StakeUnlocked(address indexed locker, address indexed operator, uint256 amount, bytes32 indexed ref);
    /// @notice `amount` of the stake of `operator` was taken: `beneficiaryAmount` to `beneficiary`
    /// (zero address when none), `treasuryAmount` to the treasury. `amount == beneficiaryAmount + treasuryAmount`.
    event Slashed(
        address indexed operator,
        uint256 amount,
        uint8 indexed reasonCode,
        bytes32 evidenceHash,
        address indexed beneficiary,
        uint256 beneficiaryAmount,
        uint256 treasuryAmount
    );
    /// @notice The unbonding delay for future unbond requests changed.
    event UnbondingDelaySet(uint64 delay);
    /// @notice The per-call slash cap and the beneficiary share changed.
    event SlashParametersSet(uint16 maxSlashBps, uint16 beneficiaryShareBps);
    /// @notice The address receiving the protocol's share of slashes changed.
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

    /// @notice Set the unbonding delay applied to future unbond requests (DEFAULT_ADMIN_ROLE).
    /// @dev Bounded to [1 day, 90 days]; it must stay at least the longest task / dispute window so an operator
    /// that misbehaves cannot exit before the fault is proven. Pending unbonds keep their release time.
    function setUnbondingDelay(uint64 delay) external;
    /// @notice Set the per-call slash cap (≤ 5000 bps) and the beneficiary share (≤ 10000 bps) (DEFAULT_ADMIN_ROLE).
    function setSlashParameters(uint16 maxSlashBps, uint16 beneficiaryShareBps) external;
    /// @notice Set the address that receives the protocol's share of slashes (DEFAULT_ADMIN_ROLE, non-zero).
    function setTreasury(address treasury) external;

    /// @notice Current stake of `operator` (all zero if it never staked).
    function stakeOf(address operator) external view returns (StakeInfo memory);
    /// @notice Stake of `operator` that can be unbonded or locked: bonded - locked, or 0 if locked ≥ bonded.
    function freeStakeOf(address operator) external view returns (uint256);
    /// @notice Collateral `locker` currently holds on `operator`; `locker` can unlock at most this much.
    function lockedBy(address locker, address operator) external view returns (uint256);
    /// @notice Delay between an unbond request and the moment the unbonding stake can be withdrawn.
    function unbondingDelay() external view returns (uint64);
    /// @notice Most a non-equivocation slash may take in one call, in bps of the operator's bonded + unbonding.
    function maxSlashBps() external view returns (uint16);
    /// @notice Share of each slash paid to its beneficiary, in bps; the rest (and rounding dust) goes to the treasury.
    function beneficiaryShareBps() external view returns (uint16);
    /// @notice Receiver of the protocol's share of slashes.
    function treasury() external view returns (address);
    /// @notice The staked ERC-20 (OPEN).
    function token() external view returns (IERC20);
}
