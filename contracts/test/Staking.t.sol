// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {Staking} from "../src/Staking.sol";
import {IStaking} from "../src/interfaces/IStaking.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {TestBase, Vm} from "./lib/Vm.sol";

/// @notice Fuzz tests for Staking's money math.
contract StakingFuzzTest is TestBase {
    uint256 internal constant MAX_STAKE = 1e30;
    address internal constant OPERATOR = address(0xA11CE);
    address internal constant TREASURY = address(0x7E45);
    address internal constant BENEFICIARY = address(0xBE4E);
    address internal constant LOCKER = address(0x10C4);

    MockERC20 internal token;
    Staking internal staking;

    function setUp() public {
        token = new MockERC20("Openmesh", "OPEN", 18);
        staking = new Staking(IERC20(address(token)), address(this), TREASURY);
        staking.grantRole(staking.SLASHER_ROLE(), address(this));
        staking.grantRole(staking.LOCKER_ROLE(), LOCKER);
    }

    function _stake(uint256 amount) internal {
        token.mint(OPERATOR, amount);
        vm.startPrank(OPERATOR);
        token.approve(address(staking), amount);
        staking.stake(amount);
        vm.stopPrank();
    }

    /// @notice slashed = min(amount, cap, bonded + unbonding); taken from bonded first; the split adds up exactly.
    function testFuzz_slashMath(
        uint256 stakeAmount,
        uint256 unbondAmount,
        uint256 amount,
        uint8 reasonSeed,
        uint16 maxSlashBps,
        uint16 shareBps,
        bool withBeneficiary
    ) public {
        stakeAmount = bound(stakeAmount, 1, MAX_STAKE);
        unbondAmount = bound(unbondAmount, 0, stakeAmount);
        amount = bound(amount, 1, MAX_STAKE * 2);
        uint8 reason = uint8(1 + (reasonSeed % 5));
        maxSlashBps = uint16(bound(maxSlashBps, 0, 5_000));
        shareBps = uint16(bound(shareBps, 0, 10_000));
        staking.setSlashParameters(maxSlashBps, shareBps);
        _stake(stakeAmount);
        if (unbondAmount != 0) {
            vm.prank(OPERATOR);
            staking.requestUnbond(unbondAmount);
        }
        address beneficiary = withBeneficiary ? BENEFICIARY : address(0);

        uint256 bondedBefore = stakeAmount - unbondAmount;
        uint256 expected = Math.min(amount, stakeAmount);
        if (reason != 1) expected = Math.min(expected, stakeAmount * maxSlashBps / 10_000);
        uint256 slashed = staking.slash(OPERATOR, amount, reason, bytes32(0), beneficiary);

        assertEq(slashed, expected, "slashed");
        IStaking.StakeInfo memory info = staking.stakeOf(OPERATOR);
        uint256 fromBonded = Math.min(slashed, bondedBefore);
        assertEq(info.bonded, bondedBefore - fromBonded, "bonded");
        assertEq(info.unbonding, unbondAmount - (slashed - fromBonded), "unbonding");
        uint256 toBeneficiary = withBeneficiary ? slashed * shareBps / 10_000 : 0;
        assertEq(token.balanceOf(BENEFICIARY), toBeneficiary, "beneficiary");
        assertEq(token.balanceOf(TREASURY), slashed - toBeneficiary, "treasury");
        assertEq(token.balanceOf(address(staking)), info.bonded + info.unbonding, "conservation");
    }

    /// @notice Unbonding releases exactly at request time + delay and returns everything unbonding.
    function testFuzz_unbondAndWithdraw(uint256 stakeAmount, uint256 unbondAmount, uint64 delay, uint64 early)
        public
    {
        stakeAmount = bound(stakeAmount, 1, MAX_STAKE);
        unbondAmount = bound(unbondAmount, 1, stakeAmount);
        delay = uint64(bound(delay, 1 days, 90 days));
        early = uint64(bound(early, 1, delay));
        staking.setUnbondingDelay(delay);
        _stake(stakeAmount);

        uint64 requestedAt = uint64(block.timestamp);
        vm.prank(OPERATOR);
        staking.requestUnbond(unbondAmount);
        uint64 releaseAt = requestedAt + delay;
        assertEq(staking.stakeOf(OPERATOR).unbondingReleaseAt, releaseAt, "releaseAt");

        vm.warp(releaseAt - early);
        vm.expectRevert(
            abi.encodeWithSelector(
                IStaking.StakingUnbondingNotReleased.selector, OPERATOR, releaseAt, uint64(releaseAt - early)
            )
        );
        vm.prank(OPERATOR);
        staking.withdraw();

        vm.warp(releaseAt);
        vm.prank(OPERATOR);
        uint256 got = staking.withdraw();
        assertEq(got, unbondAmount, "withdrawn");
        assertEq(token.balanceOf(OPERATOR), unbondAmount, "operator balance");
        assertEq(staking.stakeOf(OPERATOR).bonded, stakeAmount - unbondAmount, "bonded left");
    }

    /// @notice Free stake is bonded - locked, never more than bonded, and 0 once a slash eats into locked stake.
    function testFuzz_freeStake(uint256 stakeAmount, uint256 lockAmount, uint256 slashAmount, uint256 unlockAmount)
        public
    {
        stakeAmount = bound(stakeAmount, 1, MAX_STAKE);
        lockAmount = bound(lockAmount, 1, stakeAmount);
        slashAmount = bound(slashAmount, 1, stakeAmount);
        unlockAmount = bound(unlockAmount, 1, lockAmount);
        _stake(stakeAmount);
        vm.prank(LOCKER);
        staking.lock(OPERATOR, lockAmount, bytes32("ref"));
        assertEq(staking.freeStakeOf(OPERATOR), stakeAmount - lockAmount, "free after lock");

        staking.slash(OPERATOR, slashAmount, 1, bytes32(0), address(0));
        uint256 bonded = stakeAmount - slashAmount;
        assertEq(staking.stakeOf(OPERATOR).locked, lockAmount, "slash leaves locked");
        assertEq(staking.freeStakeOf(OPERATOR), bonded > lockAmount ? bonded - lockAmount : 0, "free after slash");

        vm.prank(LOCKER);
        staking.unlock(OPERATOR, unlockAmount, bytes32("ref"));
        uint256 locked = lockAmount - unlockAmount;
        uint256 free = staking.freeStakeOf(OPERATOR);
        assertEq(free, bonded > locked ? bonded - locked : 0, "free after unlock");
        assertLe(free, bonded, "free <= bonded");
    }

    /// @notice A locker can never unlock more than it locked itself.
    function testFuzz_unlockBoundedByOwnLock(uint256 lockAmount, uint256 unlockAmount) public {
        lockAmount = bound(lockAmount, 1, MAX_STAKE);
        unlockAmount = bound(unlockAmount, lockAmount + 1, MAX_STAKE * 2);
        _stake(MAX_STAKE);
        vm.prank(LOCKER);
        staking.lock(OPERATOR, lockAmount, bytes32("ref"));
        staking.grantRole(staking.LOCKER_ROLE(), address(this));
        staking.lock(OPERATOR, MAX_STAKE - lockAmount, bytes32("other"));
        vm.expectRevert(
            abi.encodeWithSelector(
                IStaking.StakingUnlockExceedsLock.selector, LOCKER, OPERATOR, lockAmount, unlockAmount
            )
        );
        vm.prank(LOCKER);
        staking.unlock(OPERATOR, unlockAmount, bytes32("ref"));
    }
}

/// @notice Drives Staking with random but valid actions across a few operators and tracks ghost totals.
contract StakingHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    uint256 internal constant MAX_AMOUNT = 1e27;

    MockERC20 public immutable token;
    Staking public immutable staking;
    address public constant TREASURY = address(0x7E45);
    address public constant SLASHER = address(0x51A5);

    address[3] public operators = [address(0xA1), address(0xA2), address(0xA3)];
    address[2] public lockers = [address(0x1001), address(0x1002)];
    address[2] public beneficiaries = [address(0xBE1), address(0)];

    mapping(address operator => uint256 amount) public ghostStaked;
    mapping(address operator => uint256 amount) public ghostWithdrawn;
    mapping(address operator => uint256 amount) public ghostSlashed;
    uint256 public ghostSlashedTotal;
    uint256 public calls;

    constructor() {
        token = new MockERC20("Openmesh", "OPEN", 18);
        staking = new Staking(IERC20(address(token)), address(this), TREASURY);
        staking.grantRole(staking.SLASHER_ROLE(), SLASHER);
        staking.grantRole(staking.LOCKER_ROLE(), lockers[0]);
        staking.grantRole(staking.LOCKER_ROLE(), lockers[1]);
    }

    function operatorCount() external pure returns (uint256) {
        return 3;
    }

    function stake(uint256 payerSeed, uint256 operatorSeed, uint256 amount) external {
        address payer = operators[payerSeed % 3];
        address operator = operators[operatorSeed % 3];
        amount = _bound(amount, 1, MAX_AMOUNT);
        token.mint(payer, amount);
        vm.startPrank(payer);
        token.approve(address(staking), amount);
        staking.stakeFor(operator, amount);
        vm.stopPrank();
        ghostStaked[operator] += amount;
        calls++;
    }

    function requestUnbond(uint256 operatorSeed, uint256 amount) external {
        address operator = operators[operatorSeed % 3];
        uint256 free = staking.freeStakeOf(operator);
        if (free == 0) return;
        vm.prank(operator);
        staking.requestUnbond(_bound(amount, 1, free));
        calls++;
    }

    function withdraw(uint256 operatorSeed) external {
        address operator = operators[operatorSeed % 3];
        IStaking.StakeInfo memory info = staking.stakeOf(operator);
        if (info.unbonding == 0 || block.timestamp < info.unbondingReleaseAt) return;
        vm.prank(operator);
        uint256 got = staking.withdraw();
        require(got == info.unbonding, "withdraw returned a different amount");
        ghostWithdrawn[operator] += got;
        calls++;
    }

    function lock(uint256 operatorSeed, uint256 lockerSeed, uint256 amount) external {
        address operator = operators[operatorSeed % 3];
        uint256 free = staking.freeStakeOf(operator);
        if (free == 0) return;
        vm.prank(lockers[lockerSeed % 2]);
        staking.lock(operator, _bound(amount, 1, free), bytes32(lockerSeed));
        calls++;
    }

    function unlock(uint256 operatorSeed, uint256 lockerSeed, uint256 amount) external {
        address operator = operators[operatorSeed % 3];
        address locker = lockers[lockerSeed % 2];
        uint256 held = staking.lockedBy(locker, operator);
        if (held == 0) return;
        vm.prank(locker);
        staking.unlock(operator, _bound(amount, 1, held), bytes32(lockerSeed));
        calls++;
    }

    function slash(uint256 operatorSeed, uint256 amount, uint8 reasonSeed, uint256 beneficiarySeed) external {
        address operator = operators[operatorSeed % 3];
        address beneficiary = beneficiaries[beneficiarySeed % 2];
        uint8 reason = uint8(1 + (reasonSeed % 5));
        IStaking.StakeInfo memory info = staking.stakeOf(operator);
        uint256 total = info.bonded + info.unbonding;
        uint256 paidBefore = token.balanceOf(TREASURY) + token.balanceOf(beneficiaries[0]);

        vm.prank(SLASHER);
        uint256 slashed = staking.slash(operator, _bound(amount, 1, MAX_AMOUNT * 2), reason, bytes32(0), beneficiary);

        require(slashed <= total, "slashed more than the stake");
        if (reason != 1) require(slashed <= total * staking.maxSlashBps() / 10_000, "cap exceeded");
        require(token.balanceOf(TREASURY) + token.balanceOf(beneficiaries[0]) == paidBefore + slashed, "payout");
        ghostSlashed[operator] += slashed;
        ghostSlashedTotal += slashed;
        calls++;
    }

    function setSlashParameters(uint16 maxSlashBps, uint16 shareBps) external {
        staking.setSlashParameters(uint16(_bound(maxSlashBps, 0, 5_000)), uint16(_bound(shareBps, 0, 10_000)));
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 0, 10 days));
    }

    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        if (x >= min && x <= max) return x;
        return min + (x % (max - min + 1));
    }
}

/// @notice Invariants of Staking under random sequences of handler actions.
contract StakingInvariantTest is TestBase {
    StakingHandler internal handler;
    Staking internal staking;
    MockERC20 internal token;

    function setUp() public {
        handler = new StakingHandler();
        staking = handler.staking();
        token = handler.token();
    }

    /// @dev Only the handler is called by the invariant fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_balanceEqualsTotalStake() public view {
        uint256 total;
        for (uint256 i; i < handler.operatorCount(); i++) {
            IStaking.StakeInfo memory info = staking.stakeOf(handler.operators(i));
            total += info.bonded + info.unbonding;
        }
        assertEq(token.balanceOf(address(staking)), total, "balance == sum(bonded + unbonding)");
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_perOperatorConservation() public view {
        for (uint256 i; i < handler.operatorCount(); i++) {
            address op = handler.operators(i);
            IStaking.StakeInfo memory info = staking.stakeOf(op);
            uint256 staked = handler.ghostStaked(op);
            uint256 slashed = handler.ghostSlashed(op);
            uint256 withdrawn = handler.ghostWithdrawn(op);
            assertLe(slashed, staked, "slashed <= staked");
            assertLe(withdrawn, staked - slashed, "withdrawn <= staked - slashed");
            assertEq(info.bonded + info.unbonding, staked - slashed - withdrawn, "stake == staked - slashed - withdrawn");
        }
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_freeNeverExceedsBondedAndLocksAddUp() public view {
        for (uint256 i; i < handler.operatorCount(); i++) {
            address op = handler.operators(i);
            IStaking.StakeInfo memory info = staking.stakeOf(op);
            uint256 free = staking.freeStakeOf(op);
            assertLe(free, info.bonded, "free <= bonded");
            assertEq(free, info.bonded > info.locked ? info.bonded - info.locked : 0, "free == bonded - locked");
            assertEq(
                staking.lockedBy(handler.lockers(0), op) + staking.lockedBy(handler.lockers(1), op),
                info.locked,
                "locked == sum(lockedBy)"
            );
            if (info.unbonding == 0) assertEq(info.unbondingReleaseAt, 0, "no release time without unbonding");
        }
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_slashesPaidOutExactly() public view {
        assertEq(
            token.balanceOf(handler.TREASURY()) + token.balanceOf(handler.beneficiaries(0)),
            handler.ghostSlashedTotal(),
            "treasury + beneficiary == total slashed"
        );
    }
}
