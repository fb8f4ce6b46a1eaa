// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {LeaseEscrow} from "../src/LeaseEscrow.sol";
import {Staking} from "../src/Staking.sol";
import {XnodeRegistry} from "../src/XnodeRegistry.sol";
import {ILeaseEscrow} from "../src/interfaces/ILeaseEscrow.sol";
import {IStaking} from "../src/interfaces/IStaking.sol";
import {IXnodeRegistry} from "../src/interfaces/IXnodeRegistry.sol";
import {LeaseMath} from "../src/libraries/LeaseMath.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {TestBase, Vm} from "./lib/Vm.sol";

/// @notice Fuzz tests of LeaseEscrow's money paths against the real Staking + XnodeRegistry.
/// @dev Hardhat's Solidity runner has no `createWallet`, so the one registered node uses the libp2p peer-id spec's
/// secp256k1 test vector (as XnodeRegistry.t.sol does). A 6-decimal token keeps amounts USDC-like.
contract LeaseEscrowFuzzTest is TestBase {
    uint256 internal constant NODE_KEY = 0x53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb;
    bytes32 internal constant NODE_X = 0x7777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99;
    bytes32 internal constant NODE_Y = 0x1b41b30efa52b659e9db235c31f9975578a17e2b356a6b84837b5b45c555cfb1;
    uint256 internal constant BOND = 1_000e6;
    uint256 internal constant MAX_PRICE = 1e18;
    address internal constant OPERATOR = address(0x0BE4);
    address internal constant LESSEE = address(0x1E55);
    address internal constant TREASURY = address(0x7E45);

    MockERC20 internal token;
    XnodeRegistry internal registry;
    LeaseEscrow internal escrow;
    address internal node;

    function setUp() public {
        vm.warp(1_700_000_000);
        token = new MockERC20("USD Coin", "USDC", 6);
        Staking staking = new Staking(IERC20(address(token)), address(this), TREASURY);
        registry = new XnodeRegistry(IStaking(address(staking)), address(this), BOND);
        staking.grantRole(staking.LOCKER_ROLE(), address(registry));
        registry.grantRole(registry.JAILER_ROLE(), address(this));
        escrow =
            new LeaseEscrow(IERC20(address(token)), IXnodeRegistry(address(registry)), address(this), TREASURY, 250);
        escrow.grantRole(escrow.RESOURCE_REPORTER_ROLE(), address(this));

        node = vm.addr(NODE_KEY);
        token.mint(OPERATOR, BOND);
        vm.startPrank(OPERATOR);
        token.approve(address(staking), BOND);
        staking.stake(BOND);
        vm.stopPrank();
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(NODE_KEY, registry.registrationDigest(OPERATOR, node, 0, deadline));
        vm.prank(OPERATOR);
        registry.register(abi.encodePacked(NODE_X, NODE_Y), _resources(), 4, "", deadline, abi.encodePacked(r, s, v));
    }

    function _resources() internal pure returns (IXnodeRegistry.Resources memory) {
        return IXnodeRegistry.Resources({cpuMillicores: 1_000, memoryMiB: 2_048, storageGiB: 10, gpus: 0});
    }

    /// @dev Post an offer with bounded random terms and open one lease on it; returns (leaseId, deposit).
    function _open(uint256 price, uint64 minDuration, uint64 maxDuration, uint64 notice, uint256 deposit, uint16 fee)
        internal
        returns (uint256 leaseId, uint256 price_, uint256 deposit_)
    {
        price_ = bound(price, 1, MAX_PRICE);
        minDuration = uint64(bound(minDuration, 1, 30 days));
        maxDuration = uint64(bound(maxDuration, minDuration, 365 days));
        notice = uint64(bound(notice, 0, minDuration));
        escrow.setProtocolFee(uint16(bound(fee, 0, 1_000)));
        vm.prank(OPERATOR);
        uint256 offerId = escrow.postOffer(node, _resources(), price_, minDuration, maxDuration, notice, 4);
        deposit_ = bound(deposit, price_ * minDuration, price_ * maxDuration);
        token.mint(LESSEE, deposit_);
        vm.startPrank(LESSEE);
        token.approve(address(escrow), deposit_);
        leaseId = escrow.openLease(offerId, deposit_, price_);
        vm.stopPrank();
    }

    function _paidOut() internal view returns (uint256) {
        return token.balanceOf(OPERATOR) + token.balanceOf(TREASURY) + token.balanceOf(LESSEE);
    }

    /// @notice end = start + deposit / price; a mid-lease settle pays price × elapsed, fee rounded up; at the end
    /// the dust (deposit mod price) goes back and operator + fees + refunds == deposit exactly.
    function testFuzz_settleAndNaturalEnd(
        uint256 price,
        uint64 minDuration,
        uint64 maxDuration,
        uint256 deposit,
        uint16 fee,
        uint64 elapsed
    ) public {
        (uint256 leaseId, uint256 p, uint256 d) = _open(price, minDuration, maxDuration, 0, deposit, fee);
        ILeaseEscrow.Lease memory lease = escrow.getLease(leaseId);
        uint64 duration = uint64(d / p);
        assertEq(lease.end, lease.start + duration, "end");
        elapsed = uint64(bound(elapsed, 0, duration - 1));

        vm.warp(lease.start + elapsed);
        uint256 gross = escrow.settle(leaseId);
        assertEq(gross, p * elapsed, "gross");
        uint256 feeAmount = Math.mulDiv(gross, lease.feeBps, 10_000, Math.Rounding.Ceil);
        assertEq(token.balanceOf(TREASURY), feeAmount, "fee rounded up");
        assertEq(token.balanceOf(OPERATOR), gross - feeAmount, "operator share");
        assertEq(token.balanceOf(address(escrow)), escrow.escrowedOf(leaseId), "balance == escrowed");
        assertEq(escrow.settle(leaseId), 0, "nothing more in the same second");
        assertEq(escrow.getLease(leaseId).paid, gross, "second settle changes nothing");

        vm.warp(lease.end + elapsed);
        escrow.settle(leaseId);
        lease = escrow.getLease(leaseId);
        assertTrue(lease.status == ILeaseEscrow.LeaseStatus.Ended, "ended");
        assertEq(lease.paid, p * duration, "paid through end");
        assertEq(token.balanceOf(LESSEE), d % p, "dust refunded");
        assertEq(_paidOut(), d, "operator + fees + refunds == deposit");
        assertEq(token.balanceOf(address(escrow)), 0, "escrow empty");
    }

    /// @notice close refunds deposit − price × (newEnd − start) (as closePreview said); the operator is paid
    /// exactly through newEnd = min(end, max(now + notice, start + minDuration)).
    function testFuzz_close(
        uint256 price,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 notice,
        uint256 deposit,
        uint16 fee,
        uint64 closeAfter,
        bool settleFirst
    ) public {
        (uint256 leaseId, uint256 p, uint256 d) = _open(price, minDuration, maxDuration, notice, deposit, fee);
        ILeaseEscrow.Lease memory lease = escrow.getLease(leaseId);
        closeAfter = uint64(bound(closeAfter, 0, uint256(lease.end - lease.start) + 10 days));
        vm.warp(lease.start + closeAfter);
        if (settleFirst && block.timestamp < lease.end) escrow.settle(leaseId);

        uint64 newEnd = uint64(
            Math.min(lease.end, Math.max(block.timestamp + lease.noticePeriod, lease.start + lease.minDuration))
        );
        uint256 preview = escrow.closePreview(leaseId);
        assertEq(preview, d - p * (newEnd - lease.start), "preview");
        vm.prank(LESSEE);
        uint256 refund = escrow.close(leaseId);
        assertEq(refund, preview, "refund == preview");
        assertEq(escrow.getLease(leaseId).end, newEnd, "new end");

        vm.warp(Math.max(newEnd, block.timestamp));
        if (escrow.getLease(leaseId).status == ILeaseEscrow.LeaseStatus.Closing) escrow.settle(leaseId);
        lease = escrow.getLease(leaseId);
        assertTrue(lease.status == ILeaseEscrow.LeaseStatus.Ended, "ended");
        assertEq(lease.paid, p * (newEnd - lease.start), "operator paid through newEnd");
        assertEq(token.balanceOf(LESSEE), refund, "no second refund");
        assertEq(_paidOut(), d, "conservation");
        assertEq(token.balanceOf(address(escrow)), 0, "escrow empty");
    }

    /// @notice A failure cuts at clamp(failedAt, paidThrough, end): never claws back paid time, never pays past end.
    function testFuzz_resourceFailure(
        uint256 price,
        uint64 minDuration,
        uint64 maxDuration,
        uint256 deposit,
        uint16 fee,
        uint64 settleAt,
        uint64 now_,
        uint64 failedAt
    ) public {
        (uint256 leaseId, uint256 p, uint256 d) = _open(price, minDuration, maxDuration, 0, deposit, fee);
        ILeaseEscrow.Lease memory lease = escrow.getLease(leaseId);
        settleAt = uint64(bound(settleAt, lease.start, lease.end - 1));
        vm.warp(settleAt);
        escrow.settle(leaseId);
        now_ = uint64(bound(now_, settleAt, uint256(lease.end) + 30 days));
        vm.warp(now_);
        failedAt = uint64(bound(failedAt, 0, now_));
        uint64 expectedCut = failedAt < settleAt ? settleAt : (failedAt > lease.end ? lease.end : failedAt);

        escrow.reportResourceFailure(node, failedAt, bytes32("proof"));
        lease = escrow.getLease(leaseId);
        assertTrue(lease.status == ILeaseEscrow.LeaseStatus.Terminated, "terminated");
        assertEq(lease.paidThrough, expectedCut, "cutoff");
        assertEq(lease.paid, p * (expectedCut - lease.start), "paid through cutoff");
        assertEq(token.balanceOf(LESSEE), d - lease.paid, "lessee refunded the rest");
        assertEq(_paidOut(), d, "conservation");
        assertEq(token.balanceOf(address(escrow)), 0, "escrow empty");
        assertEq(escrow.activeLeasesOfNode(node).length, 0, "node released");
    }

    /// @notice Top-ups move end by floor(total / price) and are refused past maxDuration with the cap.
    function testFuzz_topUp(uint256 price, uint64 minDuration, uint64 maxDuration, uint256 deposit, uint256 extra)
        public
    {
        (uint256 leaseId, uint256 p, uint256 d) = _open(price, minDuration, maxDuration, 0, deposit, 0);
        ILeaseEscrow.Lease memory lease = escrow.getLease(leaseId);
        uint256 maxDeposit = p * lease.maxDuration;
        extra = bound(extra, 1, maxDeposit + 1);
        token.mint(LESSEE, extra);
        vm.startPrank(LESSEE);
        token.approve(address(escrow), extra);
        if (d + extra > maxDeposit) {
            vm.expectRevert(
                abi.encodeWithSelector(ILeaseEscrow.LeaseEscrowDepositTooHigh.selector, d + extra, maxDeposit)
            );
            escrow.topUp(leaseId, extra);
        } else {
            escrow.topUp(leaseId, extra);
            assertEq(escrow.getLease(leaseId).end, lease.start + (d + extra) / p, "end");
            assertEq(token.balanceOf(address(escrow)), d + extra, "escrowed");
        }
        vm.stopPrank();
    }

    /// @notice LeaseMath: fee ≤ amount and fee × 10 000 ≥ amount × bps; closeEnd within [min(now, end), end].
    function testFuzz_leaseMath(uint256 amount, uint16 bps, uint64 start, uint64 len, uint64 now_, uint64 notice)
        public
        pure
    {
        amount = bound(amount, 0, type(uint128).max);
        bps = uint16(bound(bps, 0, 10_000));
        uint256 f = LeaseMath.fee(amount, bps);
        assertLe(f, amount, "fee <= amount");
        assertTrue(f * 10_000 >= amount * bps && (f == 0 || (f - 1) * 10_000 < amount * bps), "fee = ceil");

        start = uint64(bound(start, 0, type(uint32).max));
        len = uint64(bound(len, 1, 365 days));
        uint64 end = start + len;
        now_ = uint64(bound(now_, start, uint256(end) + 365 days));
        notice = uint64(bound(notice, 0, len));
        uint64 e = LeaseMath.closeEnd(start, end, now_, notice, notice);
        assertLe(e, end, "closeEnd <= end");
        assertLe(Math.min(now_, end), e, "closeEnd >= min(now, end)");
        assertTrue(e >= start + notice, "minimum term paid");
    }
}

/// @notice Minimal stand-in for the registry, for the invariant handler only: three nodes with switchable status.
/// Not a production contract; it answers the three IXnodeRegistry views LeaseEscrow reads.
contract LeaseTestRegistry {
    mapping(address node => address operator) public operatorOf;
    mapping(address node => bool active) public isActive;

    function set(address node, address operator, bool active) external {
        operatorOf[node] = operator;
        isActive[node] = active;
    }

    function getNode(address node) external view returns (IXnodeRegistry.Node memory record) {
        record.operator = operatorOf[node];
        record.status = isActive[node] ? IXnodeRegistry.NodeStatus.Active : IXnodeRegistry.NodeStatus.Jailed;
        record.slots = 1;
        record.resources =
            IXnodeRegistry.Resources({cpuMillicores: 8_000, memoryMiB: 16_384, storageGiB: 500, gpus: 1});
    }
}

/// @notice Drives LeaseEscrow with random valid actions; lessees are minted exactly what they deposit, so each
/// lessee's balance is the refunds it received, each operator's the payouts, the treasury's the fees.
contract LeaseEscrowHandler {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));
    address public constant TREASURY = address(0x7E45);

    MockERC20 public immutable token;
    LeaseTestRegistry public immutable registry;
    LeaseEscrow public immutable escrow;

    address[3] public nodes = [address(0xD1), address(0xD2), address(0xD3)];
    address[3] public operators = [address(0xA1), address(0xA2), address(0xA3)];
    address[3] public lessees = [address(0xC1), address(0xC2), address(0xC3)];
    uint256 public ghostDeposits;
    uint256 public calls;

    constructor() {
        token = new MockERC20("USD Coin", "USDC", 6);
        registry = new LeaseTestRegistry();
        escrow =
            new LeaseEscrow(IERC20(address(token)), IXnodeRegistry(address(registry)), address(this), TREASURY, 250);
        escrow.grantRole(escrow.RESOURCE_REPORTER_ROLE(), address(this));
        for (uint256 i; i < 3; ++i) {
            registry.set(nodes[i], operators[i], true);
        }
    }

    function postOffer(
        uint256 nodeSeed,
        uint256 price,
        uint64 minDuration,
        uint64 maxDuration,
        uint64 notice,
        uint32 max
    ) external {
        uint256 i = nodeSeed % 3;
        if (!registry.isActive(nodes[i])) return;
        minDuration = uint64(_bound(minDuration, 1, 7 days));
        maxDuration = uint64(_bound(maxDuration, minDuration, 60 days));
        vm.prank(operators[i]);
        escrow.postOffer(
            nodes[i],
            IXnodeRegistry.Resources({cpuMillicores: 1_000, memoryMiB: 1_024, storageGiB: 0, gpus: 0}),
            _bound(price, 1, 1e9),
            minDuration,
            maxDuration,
            uint64(_bound(notice, 0, minDuration)),
            uint32(_bound(max, 1, 40))
        );
        calls++;
    }

    function openLease(uint256 offerSeed, uint256 lesseeSeed, uint256 deposit) external {
        uint256 count = escrow.offerCount();
        if (count == 0) return;
        uint256 offerId = 1 + offerSeed % count;
        ILeaseEscrow.Offer memory offer = escrow.getOffer(offerId);
        if (
            !offer.active || !registry.isActive(offer.node) || offer.activeLeases >= offer.maxLeases
                || escrow.activeLeasesOfNode(offer.node).length >= escrow.MAX_ACTIVE_LEASES_PER_NODE()
        ) return;
        deposit = _bound(deposit, offer.pricePerSecond * offer.minDuration, offer.pricePerSecond * offer.maxDuration);
        address lessee = lessees[lesseeSeed % 3];
        _fund(lessee, deposit);
        vm.prank(lessee);
        escrow.openLease(offerId, deposit, offer.pricePerSecond);
        calls++;
    }

    function topUp(uint256 leaseSeed, uint256 amount) external {
        (bool ok, uint256 leaseId, ILeaseEscrow.Lease memory lease) = _pick(leaseSeed);
        if (!ok || lease.status != ILeaseEscrow.LeaseStatus.Active || block.timestamp >= lease.end) return;
        uint256 room = lease.pricePerSecond * lease.maxDuration - lease.deposit;
        if (room == 0) return;
        amount = _bound(amount, 1, room);
        _fund(lease.lessee, amount);
        vm.prank(lease.lessee);
        escrow.topUp(leaseId, amount);
        calls++;
    }

    function settle(uint256 leaseSeed) external {
        (bool ok, uint256 leaseId, ILeaseEscrow.Lease memory lease) = _pick(leaseSeed);
        bool running =
            lease.status == ILeaseEscrow.LeaseStatus.Active || lease.status == ILeaseEscrow.LeaseStatus.Closing;
        if (!ok || !running) return;
        escrow.settle(leaseId);
        calls++;
    }

    function close(uint256 leaseSeed) external {
        (bool ok, uint256 leaseId, ILeaseEscrow.Lease memory lease) = _pick(leaseSeed);
        if (!ok || lease.status != ILeaseEscrow.LeaseStatus.Active) return;
        uint256 preview = escrow.closePreview(leaseId);
        vm.prank(lease.lessee);
        uint256 refund = escrow.close(leaseId);
        require(refund == preview, "close refund != closePreview");
        calls++;
    }

    function reportFailure(uint256 nodeSeed, uint256 back) external {
        uint64 failedAt = uint64(block.timestamp - _bound(back, 0, Math.min(block.timestamp, 30 days)));
        escrow.reportResourceFailure(nodes[nodeSeed % 3], failedAt, bytes32(back));
        calls++;
    }

    function setNodeActive(uint256 nodeSeed, bool active) external {
        uint256 i = nodeSeed % 3;
        registry.set(nodes[i], operators[i], active);
    }

    function setOfferActive(uint256 offerSeed, bool active) external {
        uint256 count = escrow.offerCount();
        if (count == 0) return;
        uint256 offerId = 1 + offerSeed % count;
        vm.prank(escrow.getOffer(offerId).operator);
        escrow.setOfferActive(offerId, active);
    }

    function setFee(uint16 feeBps) external {
        escrow.setProtocolFee(uint16(_bound(feeBps, 0, escrow.MAX_PROTOCOL_FEE_BPS())));
    }

    function warp(uint256 seconds_) external {
        vm.warp(block.timestamp + _bound(seconds_, 0, 10 days));
    }

    function _fund(address lessee, uint256 amount) private {
        token.mint(lessee, amount);
        vm.prank(lessee);
        token.approve(address(escrow), amount);
        ghostDeposits += amount;
    }

    function _pick(uint256 seed) private view returns (bool ok, uint256 leaseId, ILeaseEscrow.Lease memory lease) {
        uint256 count = escrow.leaseCount();
        if (count == 0) return (false, 0, lease);
        leaseId = 1 + seed % count;
        return (true, leaseId, escrow.getLease(leaseId));
    }

    function _bound(uint256 x, uint256 min, uint256 max) private pure returns (uint256) {
        if (x >= min && x <= max) return x;
        return min + (x % (max - min + 1));
    }
}

/// @notice Invariants of LeaseEscrow under random sequences of handler actions.
contract LeaseEscrowInvariantTest is TestBase {
    LeaseEscrowHandler internal handler;
    LeaseEscrow internal escrow;
    MockERC20 internal token;

    function setUp() public {
        vm.warp(1_700_000_000);
        handler = new LeaseEscrowHandler();
        escrow = handler.escrow();
        token = handler.token();
    }

    /// @dev Only the handler is called by the invariant fuzzer.
    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    /// @notice The escrow holds exactly Σ (deposit − paid − refunded) over all leases.
    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_balanceEqualsSumOwed() public view {
        uint256 owed;
        uint256 count = escrow.leaseCount();
        for (uint256 id = 1; id <= count; ++id) {
            ILeaseEscrow.Lease memory lease = escrow.getLease(id);
            owed += lease.deposit - lease.paid - lease.refunded;
        }
        assertEq(token.balanceOf(address(escrow)), owed, "balance == sum(deposit - paid - refunded)");
    }

    /// @notice Σ operator payouts + Σ fees + Σ refunds + escrow balance == Σ deposits, to the wei.
    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_conservation() public view {
        uint256 out = token.balanceOf(handler.TREASURY()) + token.balanceOf(address(escrow));
        for (uint256 i; i < 3; ++i) {
            out += token.balanceOf(handler.operators(i)) + token.balanceOf(handler.lessees(i));
        }
        assertEq(out, handler.ghostDeposits(), "operators + fees + refunds + escrowed == deposits");
    }

    /// @notice Per lease: paid == price × (paidThrough − start), start ≤ paidThrough ≤ end, nothing left once
    /// Ended / Terminated; running sets and offer counters match the statuses; the node cap holds.
    /// hardhat-config: invariant.runs = 128
    /// hardhat-config: invariant.depth = 100
    function invariant_leaseAccounting() public view {
        uint256 count = escrow.leaseCount();
        uint256[3] memory runningPerNode;
        for (uint256 id = 1; id <= count; ++id) {
            ILeaseEscrow.Lease memory lease = escrow.getLease(id);
            assertEq(lease.paid, lease.pricePerSecond * (lease.paidThrough - lease.start), "paid == price x seconds");
            assertTrue(lease.start <= lease.paidThrough && lease.paidThrough <= lease.end, "paidThrough in range");
            bool running =
                lease.status == ILeaseEscrow.LeaseStatus.Active || lease.status == ILeaseEscrow.LeaseStatus.Closing;
            if (!running) assertEq(lease.deposit, lease.paid + lease.refunded, "finished lease fully paid out");
            if (running) {
                for (uint256 i; i < 3; ++i) {
                    if (handler.nodes(i) == lease.node) runningPerNode[i]++;
                }
            }
        }
        for (uint256 i; i < 3; ++i) {
            uint256 n = escrow.activeLeasesOfNode(handler.nodes(i)).length;
            assertEq(n, runningPerNode[i], "running set == running leases");
            assertLe(n, escrow.MAX_ACTIVE_LEASES_PER_NODE(), "node cap");
        }
        uint256 offers = escrow.offerCount();
        uint256 sumActive;
        for (uint256 id = 1; id <= offers; ++id) {
            sumActive += escrow.getOffer(id).activeLeases;
        }
        assertEq(sumActive, runningPerNode[0] + runningPerNode[1] + runningPerNode[2], "offer counters");
    }
}
