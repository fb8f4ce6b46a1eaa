// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ServiceRegistry} from "../src/ServiceRegistry.sol";
import {Subscriptions} from "../src/Subscriptions.sol";
import {IServiceRegistry} from "../src/interfaces/IServiceRegistry.sol";
import {StreamMath} from "../src/libraries/StreamMath.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {TestBase} from "./lib/Vm.sol";

/// @dev Shared set-up: a 6-decimal token, a registry, Subscriptions (admin = the deployer) and helpers.
library ServicesSetup {
    address internal constant OWNER = address(0x0A11CE);
    address internal constant TREASURY = address(0x7E45);

    function pricing(uint128 perPeriod, uint64 periodSeconds, uint128 oneTime, uint64 oneTimeDuration)
        internal
        pure
        returns (IServiceRegistry.ServiceParams memory p)
    {
        p.name = "svc";
        p.minReplicas = 1;
        p.maxReplicas = 1;
        p.pricing = IServiceRegistry.Pricing({
            perCall: 0,
            perPeriod: perPeriod,
            periodSeconds: periodSeconds,
            oneTime: oneTime,
            oneTimeDuration: oneTimeDuration
        });
    }
}

/// @notice Fuzz tests of the stream math (StreamMath) and of one subscription's money flow.
contract SubscriptionsFuzzTest is TestBase {
    uint64 internal constant MAX_TIME = 1e10; // ~300 years of unix time: far beyond any real stream

    /// @notice Accrual never exceeds the balance, is monotone in time, 0 before the start, complete at the end,
    /// and is the floor of the exact linear value.
    function testFuzz_accruedMonotoneBoundedComplete(
        uint256 balance,
        uint64 lastSettled,
        uint64 duration,
        uint64 t1,
        uint64 t2
    ) public pure {
        balance = bound(balance, 0, type(uint128).max);
        lastSettled = uint64(bound(lastSettled, 0, MAX_TIME));
        uint64 paidUntil = lastSettled + uint64(bound(duration, 1, 100 * 365 days));
        t1 = uint64(bound(t1, 0, paidUntil + 365 days));
        t2 = uint64(bound(t2, t1, paidUntil + 365 days));

        uint256 a1 = StreamMath.accrued(balance, lastSettled, paidUntil, t1);
        uint256 a2 = StreamMath.accrued(balance, lastSettled, paidUntil, t2);
        assertLe(a1, a2, "monotone");
        assertLe(a2, balance, "never more than the balance");
        if (t1 <= lastSettled) assertEq(a1, 0, "nothing before the start");
        if (t2 >= paidUntil) assertEq(a2, balance, "everything at the end");
        if (t1 > lastSettled && t1 < paidUntil) {
            // floor: a1 × span <= balance × elapsed < (a1 + 1) × span (fits: 2^128 × 2^64 < 2^256)
            uint256 span = paidUntil - lastSettled;
            uint256 exact = balance * (t1 - lastSettled);
            assertLe(a1 * span, exact, "rounded down");
            assertTrue(exact < (a1 + 1) * span, "by less than one unit");
        }
    }

    /// @notice Settling in any number of steps releases exactly the balance by the end: no dust stays behind.
    function testFuzz_stepwiseSettlementAddsUp(uint256 balance, uint64 start, uint64 duration, uint64[4] memory steps)
        public
        pure
    {
        balance = bound(balance, 0, type(uint128).max);
        uint64 lastSettled = uint64(bound(start, 0, MAX_TIME));
        uint64 paidUntil = lastSettled + uint64(bound(duration, 1, 10 * 365 days));
        uint256 remaining = balance;
        uint256 released;
        uint64 t = lastSettled;
        for (uint256 i = 0; i < steps.length; ++i) {
            t = uint64(bound(steps[i], t, paidUntil));
            uint256 a = StreamMath.accrued(remaining, lastSettled, paidUntil, t);
            assertLe(a, remaining, "step within the remaining balance");
            if (a > 0) {
                remaining -= a;
                lastSettled = t;
            }
            released += a;
        }
        released += StreamMath.accrued(remaining, lastSettled, paidUntil, paidUntil);
        assertEq(released, balance, "sum of steps == balance");
    }

    /// @notice fee = ceil(amount × bps / 10 000): never more than the amount, never less than the exact fee.
    function testFuzz_feeRoundsUpWithinAmount(uint256 amount, uint256 feeBps) public pure {
        amount = bound(amount, 0, type(uint128).max);
        feeBps = bound(feeBps, 0, 10_000);
        uint256 fee = StreamMath.fee(amount, feeBps);
        assertLe(fee, amount, "fee <= amount");
        assertLe(amount * feeBps, fee * 10_000, "rounded up");
        if (fee > 0) assertTrue((fee - 1) * 10_000 < amount * feeBps, "by less than one unit");
    }

    /// @notice One subscription, settled at a random time and cancelled later: owner + treasury + refund equals
    /// the deposit exactly, and Subscriptions keeps nothing.
    function testFuzz_subscribeSettleCancelConserves(
        uint128 price,
        uint64 period,
        uint32 periods,
        uint16 feeBps,
        uint64 settleAfter,
        uint64 cancelAfter
    ) public {
        price = uint128(bound(price, 1, 1e18));
        period = uint64(bound(period, 1, 365 days));
        periods = uint32(bound(periods, 1, 120));
        feeBps = uint16(bound(feeBps, 0, 1_000));
        MockERC20 token = new MockERC20("USD Coin", "USDC", 6);
        ServiceRegistry registry = new ServiceRegistry();
        Subscriptions subs =
            new Subscriptions(IERC20(address(token)), registry, address(this), ServicesSetup.TREASURY, feeBps);
        vm.prank(ServicesSetup.OWNER);
        uint256 id = registry.publish(ServicesSetup.pricing(price, period, 0, 0));

        uint256 deposit = uint256(price) * periods;
        token.mint(address(this), deposit);
        token.approve(address(subs), deposit);
        subs.subscribe(id, periods, price, new bytes32[](0));
        uint256 end = uint256(period) * periods;
        vm.warp(block.timestamp + bound(settleAfter, 0, end + 1));
        subs.settle(id, address(this));
        vm.warp(block.timestamp + bound(cancelAfter, 0, end + 1));
        if (subs.getSubscription(id, address(this)).balance > 0) subs.cancel(id);

        uint256 paid = token.balanceOf(ServicesSetup.OWNER) + token.balanceOf(ServicesSetup.TREASURY);
        assertEq(paid + token.balanceOf(address(this)), deposit, "owner + treasury + refund == deposit");
        assertEq(token.balanceOf(address(subs)), 0, "nothing left in escrow");
    }
}

/// @notice Drives Subscriptions with random consumer, keeper, owner and admin actions for the invariant test.
contract SubscriptionsHandler is TestBase {
    uint64 internal constant PERIOD = 30 days;
    uint64 internal constant ONCE_FOR = 7 days;

    MockERC20 public immutable token;
    ServiceRegistry public immutable registry;
    Subscriptions public immutable subs;
    uint256 public immutable serviceId;
    address[3] public consumers = [address(0xC0), address(0xC1), address(0xC2)];

    uint128 public price = 1_000_003; // ~1 USDC, odd so rounding happens
    uint128 public oneTimePrice = 250_001;
    uint256 public ghostDeposits;
    uint256 public ghostRefunds;
    uint256 public ghostOneTime;
    uint256 public calls;
    uint256 public refundMismatches;

    constructor() {
        token = new MockERC20("USD Coin", "USDC", 6);
        registry = new ServiceRegistry();
        subs = new Subscriptions(IERC20(address(token)), registry, address(this), ServicesSetup.TREASURY, 250);
        vm.prank(ServicesSetup.OWNER);
        serviceId = registry.publish(ServicesSetup.pricing(price, PERIOD, oneTimePrice, ONCE_FOR));
        for (uint256 i = 0; i < consumers.length; ++i) {
            token.mint(consumers[i], 1e18);
            vm.prank(consumers[i]);
            token.approve(address(subs), type(uint256).max);
        }
    }

    function subscribe(uint256 seed, uint256 periods) external {
        periods = bound(periods, 1, 12);
        vm.prank(consumers[seed % 3]);
        subs.subscribe(serviceId, uint32(periods), price, new bytes32[](0));
        ghostDeposits += price * periods;
        calls++;
    }

    function subscribeOnce(uint256 seed) external {
        vm.prank(consumers[seed % 3]);
        subs.subscribeOnce(serviceId, oneTimePrice, new bytes32[](0));
        ghostOneTime += oneTimePrice;
        calls++;
    }

    function settle(uint256 seed) external {
        subs.settle(serviceId, consumers[seed % 3]);
        calls++;
    }

    function settleAll() external {
        address[] memory all = new address[](3);
        for (uint256 i = 0; i < 3; ++i) all[i] = consumers[i];
        subs.settleMany(serviceId, all);
        calls++;
    }

    function cancel(uint256 seed) external {
        address consumer = consumers[seed % 3];
        if (subs.getSubscription(serviceId, consumer).balance == 0) return;
        uint256 preview = subs.refundPreview(serviceId, consumer);
        vm.prank(consumer);
        uint256 refund = subs.cancel(serviceId);
        if (refund != preview) refundMismatches++; // recorded, not required: reverts are ignored by the fuzzer
        ghostRefunds += refund;
        calls++;
    }

    function reprice(uint256 newPrice) external {
        price = uint128(bound(newPrice, 1, 1e9));
        vm.prank(ServicesSetup.OWNER);
        registry.update(serviceId, ServicesSetup.pricing(price, PERIOD, oneTimePrice, ONCE_FOR));
    }

    function setFee(uint256 feeBps) external {
        subs.setProtocolFee(uint16(bound(feeBps, 0, 1_000)));
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + bound(seconds_, 1, 2 * PERIOD));
    }

    function openBalances() external view returns (uint256 sum) {
        for (uint256 i = 0; i < 3; ++i) sum += subs.getSubscription(serviceId, consumers[i]).balance;
    }

    function countedPairs() external view returns (uint256 n) {
        for (uint256 i = 0; i < 3; ++i) if (subs.getSubscription(serviceId, consumers[i]).counted) n++;
    }
}

/// @notice Invariants of Subscriptions under random sequences of handler actions.
contract SubscriptionsInvariantTest is TestBase {
    SubscriptionsHandler internal handler;

    function setUp() public {
        handler = new SubscriptionsHandler();
    }

    /// @dev Only the handler is called by the invariant fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_escrowEqualsOpenBalances() public view {
        assertEq(handler.token().balanceOf(address(handler.subs())), handler.openBalances(), "escrow == sum(balances)");
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_depositsFullyAccounted() public view {
        MockERC20 token = handler.token();
        uint256 paidOut = token.balanceOf(ServicesSetup.OWNER) + token.balanceOf(ServicesSetup.TREASURY);
        uint256 streamedOut = paidOut - handler.ghostOneTime();
        assertEq(
            handler.ghostDeposits(),
            streamedOut + handler.ghostRefunds() + token.balanceOf(address(handler.subs())),
            "deposits == streamed payouts + refunds + escrow"
        );
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_cancelRefundsThePreview() public view {
        assertEq(handler.refundMismatches(), 0, "cancel refund == refundPreview");
    }

    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_subscriberCountMatchesFlags() public view {
        assertEq(handler.subs().subscriberCount(handler.serviceId()), handler.countedPairs(), "count == counted flags");
    }
}
