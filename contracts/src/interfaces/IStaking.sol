// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";

/// @title IStaking — OPEN stake of Xnode operators: bond, unbond with a delay, lock as collateral, slash.
/// @notice Accounting per operator:
///   - `bonded`    : staked tokens not being unbonded (includes `locked`).
///   - `locked`    : part of `bonded` held as collateral by authorised contracts (registry bonds, tasks, leases).
///   - `unbonding` : tokens on their way out; withdrawable after `unbondingDelay`, still slashable until then.
///   free = bonded - locked (0 if a slash pushed bonded below locked).
/// Invariant: token balance of the contract == Σ (bonded + unbonding) over all operators (tokens sent to the
/// contract directly are never credited and only add to the balance).
/// Reason codes for `slash`: 1 = equivocation (provable from two signatures, uncapped), 2 = wrong result,
/// 3 = no-show, 4 = resource proof failed, 5 = other / governance.
interface IStaking {
    /// @notice Stake of one operator.
    /// @param bonded Staked tokens not being unbonded, including `locked`.
    /// @param locked Part of `bonded` held as collateral; Σ lockedBy(locker, operator) over all lockers.
    /// @param unbonding Tokens on their way out, still slashable.
    /// @param unbondingReleaseAt When `unbonding` can be withdrawn (0 when nothing is unbonding).
    struct StakeInfo {
        uint256 bonded;
        uint256 locked;
        uint256 unbonding;
        uint64 unbondingReleaseAt;
    }

    /// @notice Amount is zero.
    error StakingZeroAmount();
    /// @notice Operator asked to unbond or lock more than its free stake.
    /// @param operator The operator.
    /// @param free Its free stake.
    /// @param needed The amount asked for.
    error StakingInsufficientFreeStake(address operator, uint256 free, uint256 needed);
    /// @notice Withdraw called before the unbonding delay elapsed.
    /// @param operator The operator.
    /// @param releaseAt When its unbonding stake is released.
    /// @param now_ Current block timestamp.
    error StakingUnbondingNotReleased(address operator, uint64 releaseAt, uint64 now_);
    /// @notice Withdraw called with nothing unbonding.
    /// @param operator The operator.
    error StakingNothingToWithdraw(address operator);
    /// @notice A locker tried to unlock more than it locked for that operator.
    /// @param locker The caller.
    /// @param operator The operator.
    /// @param lockedByLocker What the caller currently holds locked on the operator.
    /// @param amount The amount asked for.
    error StakingUnlockExceedsLock(address locker, address operator, uint256 lockedByLocker, uint256 amount);
    /// @notice Parameter outside its allowed range.
    /// @param name Parameter name, as a right-padded bytes32 string ("unbondingDelay", "maxSlashBps", …).
    /// @param value The rejected value.
    error StakingInvalidParameter(bytes32 name, uint256 value);
    /// @notice Unknown slash reason code.
    /// @param reasonCode The rejected code (valid: 1..5).
    error StakingInvalidReason(uint8 reasonCode);
    /// @notice A required address (token, admin, treasury, operator) is the zero address.
    error StakingZeroAddress();

    /// @notice Stake was added.
    /// @param operator Whose bonded stake grew.
    /// @param payer Who paid (the operator itself for `stake`).
    /// @param amount Amount added.
    /// @param bonded New bonded total of `operator`.
    event Staked(address indexed operator, address indexed payer, uint256 amount, uint256 bonded);
    /// @notice Free stake moved into unbonding.
    /// @param operator The operator.
    /// @param amount Amount moved.
    /// @param unbonding New unbonding total.
    /// @param releaseAt When the whole unbonding total can be withdrawn.
    event UnbondRequested(address indexed operator, uint256 amount, uint256 unbonding, uint64 releaseAt);
    /// @notice Released unbonding stake was sent back.
    /// @param operator Receiver.
    /// @param amount Amount sent.
    event Withdrawn(address indexed operator, uint256 amount);
    /// @notice Free stake was locked as collateral.
    /// @param locker The locking contract.
    /// @param operator The operator.
    /// @param amount Amount locked.
    /// @param ref Locker-defined reference (node, lease or task id).
    event StakeLocked(address indexed locker, address indexed operator, uint256 amount, bytes32 indexed ref);
    /// @notice Collateral was released.
    /// @param locker The locking contract.
    /// @param operator The operator.
    /// @param amount Amount released.
    /// @param ref Locker-defined reference.
    event StakeUnlocked(address indexed locker, address indexed operator, uint256 amount, bytes32 indexed ref);
    /// @notice Stake was slashed; `amount == beneficiaryAmount + treasuryAmount`.
    /// @param operator The slashed operator.
    /// @param amount Amount taken.
    /// @param reasonCode Reason code (1..5).
    /// @param evidenceHash Hash of the evidence, kept off-chain.
    /// @param beneficiary Who proved the fault (zero address when none).
    /// @param beneficiaryAmount Paid to `beneficiary`.
    /// @param treasuryAmount Paid to the treasury (includes rounding dust).
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
    /// @param delay New delay in seconds.
    event UnbondingDelaySet(uint64 delay);
    /// @notice The per-call slash cap and the beneficiary share changed.
    /// @param maxSlashBps New cap in bps of bonded + unbonding.
    /// @param beneficiaryShareBps New beneficiary share in bps.
    event SlashParametersSet(uint16 maxSlashBps, uint16 beneficiaryShareBps);
    /// @notice The receiver of the protocol's share of slashes changed.
    /// @param treasury New treasury.
    event TreasurySet(address treasury);

    /// @notice Stake `amount` for the caller (requires ERC-20 allowance).
    /// @param amount Amount in token wei (> 0).
    function stake(uint256 amount) external;
    /// @notice Stake `amount` for `operator`, paid by the caller.
    /// @param operator Credited operator (non-zero).
    /// @param amount Amount in token wei (> 0).
    function stakeFor(address operator, uint256 amount) external;
    /// @notice Stake using an ERC-2612 permit instead of a prior approval.
    /// @param amount Amount in token wei (> 0); also the permit value.
    /// @param deadline Permit deadline.
    /// @param v Permit signature v.
    /// @param r Permit signature r.
    /// @param s Permit signature s.
    function stakeWithPermit(uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s) external;
    /// @notice Move `amount` of free stake into unbonding; restarts the delay for the whole unbonding amount.
    /// @param amount Amount (> 0, ≤ free stake).
    function requestUnbond(uint256 amount) external;
    /// @notice Withdraw all unbonding stake once released.
    /// @return amount The amount sent.
    function withdraw() external returns (uint256 amount);
    /// @notice Lock free stake of `operator` as collateral (LOCKER_ROLE).
    /// @param operator The operator.
    /// @param amount Amount (> 0, ≤ free stake).
    /// @param ref Locker-defined reference, echoed in the event.
    function lock(address operator, uint256 amount, bytes32 ref) external;
    /// @notice Release collateral previously locked by the caller (LOCKER_ROLE).
    /// @param operator The operator.
    /// @param amount Amount (> 0, ≤ lockedBy(caller, operator)).
    /// @param ref Locker-defined reference, echoed in the event.
    function unlock(address operator, uint256 amount, bytes32 ref) external;
    /// @notice Slash `operator` (SLASHER_ROLE). Capped at maxSlashBps of its stake unless equivocation.
    /// @param operator The operator.
    /// @param amount Amount asked for (> 0).
    /// @param reasonCode 1..5, see above.
    /// @param evidenceHash Hash of the evidence.
    /// @param beneficiary Receives beneficiaryShareBps of the slash; zero sends everything to the treasury.
    /// @return slashed The amount actually taken (may be lower than `amount` because of the cap or the balance).
    function slash(address operator, uint256 amount, uint8 reasonCode, bytes32 evidenceHash, address beneficiary)
        external
        returns (uint256 slashed);

    /// @notice Set the unbonding delay applied to future unbond requests (DEFAULT_ADMIN_ROLE).
    /// @dev Bounded to [1 day, 90 days]; it must stay at least the longest task / dispute window so an operator
    /// that misbehaves cannot exit before the fault is proven. Pending unbonds keep their release time.
    /// @param delay New delay in seconds.
    function setUnbondingDelay(uint64 delay) external;
    /// @notice Set the per-call slash cap and the beneficiary share (DEFAULT_ADMIN_ROLE).
    /// @param maxSlashBps Cap in bps of bonded + unbonding (≤ 5000).
    /// @param beneficiaryShareBps Beneficiary share in bps (≤ 10000).
    function setSlashParameters(uint16 maxSlashBps, uint16 beneficiaryShareBps) external;
    /// @notice Set the address that receives the protocol's share of slashes (DEFAULT_ADMIN_ROLE).
    /// @param treasury New treasury (non-zero).
    function setTreasury(address treasury) external;

    /// @notice Current stake of `operator` (all zero if it never staked).
    /// @param operator The operator.
    /// @return info Its stake.
    function stakeOf(address operator) external view returns (StakeInfo memory info);
    /// @notice Stake of `operator` that can be unbonded or locked: bonded - locked, or 0 if locked ≥ bonded.
    /// @param operator The operator.
    /// @return free Its free stake.
    function freeStakeOf(address operator) external view returns (uint256 free);
    /// @notice Collateral `locker` currently holds on `operator`; `locker` can unlock at most this much.
    /// @param locker The locking contract.
    /// @param operator The operator.
    /// @return amount Amount locked by `locker`.
    function lockedBy(address locker, address operator) external view returns (uint256 amount);
    /// @notice Delay between an unbond request and the moment the unbonding stake can be withdrawn.
    /// @return delay In seconds.
    function unbondingDelay() external view returns (uint64 delay);
    /// @notice Most a non-equivocation slash may take in one call, in bps of the operator's bonded + unbonding.
    /// @return bps The cap.
    function maxSlashBps() external view returns (uint16 bps);
    /// @notice Share of each slash paid to its beneficiary, in bps; the rest (and rounding dust) goes to the treasury.
    /// @return bps The share.
    function beneficiaryShareBps() external view returns (uint16 bps);
    /// @notice Receiver of the protocol's share of slashes.
    /// @return treasury_ The treasury.
    function treasury() external view returns (address treasury_);
    /// @notice The staked ERC-20 (OPEN).
    /// @return token_ The token.
    function token() external view returns (IERC20 token_);
}
