// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {ServiceRegistry} from "../src/ServiceRegistry.sol";
import {Staking} from "../src/Staking.sol";
import {UsageEscrow} from "../src/UsageEscrow.sol";
import {XnodeRegistry} from "../src/XnodeRegistry.sol";
import {IServiceRegistry} from "../src/interfaces/IServiceRegistry.sol";
import {IStaking} from "../src/interfaces/IStaking.sol";
import {IUsageEscrow} from "../src/interfaces/IUsageEscrow.sol";
import {IXnodeRegistry} from "../src/interfaces/IXnodeRegistry.sol";
import {StreamMath} from "../src/libraries/StreamMath.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {TestBase} from "./lib/Vm.sol";

/// @notice Fuzz tests of UsageEscrow's money paths against the real Staking, XnodeRegistry and ServiceRegistry.
/// @dev The one registered node uses the libp2p peer-id spec's secp256k1 test vector (as LeaseEscrow.t.sol does);
/// consumers sign access tokens with `vm.sign` over `accessTokenDigest`. A 6-decimal token keeps amounts USDC-like.
contract UsageEscrowFuzzTest is TestBase {
    uint256 internal constant NODE_KEY = 0x53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb;
    bytes32 internal constant NODE_X = 0x7777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99;
    bytes32 internal constant NODE_Y = 0x1b41b30efa52b659e9db235c31f9975578a17e2b356a6b84837b5b45c555cfb1;
    uint256 internal constant SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141;
    uint256 internal constant BOND = 1_000e6;
    address internal constant OPERATOR = address(0x0BE4);
    address internal constant OWNER = address(0x0A11CE);
    address internal constant TREASURY = address(0x7E45);
    uint64 internal constant DELAY = 1 days;
    uint64 internal constant WINDOW = 7 days;

    MockERC20 internal token;
    ServiceRegistry internal services;
    UsageEscrow internal escrow;
    address internal node;
    uint256 internal serviceId;

    function setUp() public {
        vm.warp(1_700_000_000);
        token = new MockERC20("USD Coin", "USDC", 6);
        Staking staking = new Staking(IERC20(address(token)), address(this), TREASURY);
        XnodeRegistry registry = new XnodeRegistry(IStaking(address(staking)), address(this), BOND);
        staking.grantRole(staking.LOCKER_ROLE(), address(registry));
        services = new ServiceRegistry();
        escrow = new UsageEscrow(
            IERC20(address(token)), services, IXnodeRegistry(address(registry)), address(this), TREASURY, 250, DELAY, WINDOW
        );

        node = vm.addr(NODE_KEY);
        token.mint(OPERATOR, BOND);
        vm.startPrank(OPERATOR);
        token.approve(address(staking), BOND);
        staking.stake(BOND);
        vm.stopPrank();
        uint256 deadline = block.timestamp + 1 hours;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(NODE_KEY, registry.registrationDigest(OPERATOR, node, 0, deadline));
        vm.prank(OPERATOR);
        registry.register(
            abi.encodePacked(NODE_X, NODE_Y),
            IXnodeRegistry.Resources({cpuMillicores: 1_000, memoryMiB: 2_048, storageGiB: 10, gpus: 0}),
            4,
            "",
            deadline,
            abi.encodePacked(r, s, v)
        );
        vm.prank(OWNER);
        serviceId = services.publish(_params(1));
    }

    function _params(uint128 perCall) internal pure returns (IServiceRegistry.ServiceParams memory p) {
        p.name = "metered";
        p.minReplicas = 1;
        p.maxReplicas = 1;
        p.minProviderStake = BOND;
        p.pricing.perCall = perCall;
    }

    function _setPrice(uint128 perCall) internal {
        vm.prank(OWNER);
        services.update(serviceId, _params(perCall));
    }

    function _deposit(address consumer, uint256 amount, uint256 price) internal {
        token.mint(consumer, amount);
        vm.startPrank(consumer);
        token.approve(address(escrow), amount);
        escrow.deposit(serviceId, amount, price);
        vm.stopPrank();
    }

    function _call(uint256 key, bytes32 nonce) internal view returns (IUsageEscrow.Call memory c) {
        c.consumer = vm.addr(key);
        c.expiry = uint64(block.timestamp + 60);
        c.nonce = nonce;
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, escrow.accessTokenDigest(serviceId, c.consumer, node, c.expiry, nonce));
        c.signature = abi.encodePacked(r, s, v);
    }

    function _key(uint256 seed) internal pure returns (uint256) {
        return bound(seed, 1, SECP256K1_N - 1);
    }

    /// @notice n calls against a deposit worth `affordable` calls at a random price and fee: exactly
    /// min(n, affordable) are paid; operator + treasury + remaining escrow == deposit; the fee is ceil.
    function testFuzz_claimConserves(uint256 keySeed, uint128 price, uint8 affordable, uint8 n, uint16 feeBps) public {
        uint256 key = _key(keySeed);
        address consumer = vm.addr(key);
        vm.assume(consumer != OPERATOR && consumer != TREASURY && consumer != address(escrow));
        price = uint128(bound(price, 1, 1e12));
        n = uint8(bound(n, 1, 40));
        feeBps = uint16(bound(feeBps, 0, 1_000));
        escrow.setProtocolFee(feeBps);
        _setPrice(price);
        uint256 amount = uint256(price) * affordable + price / 2; // a partial call's worth stays behind
        _deposit(consumer, amount, price);

        IUsageEscrow.Call[] memory calls = new IUsageEscrow.Call[](n);
        for (uint256 i = 0; i < n; ++i) calls[i] = _call(key, keccak256(abi.encode(keySeed, i)));
        vm.prank(node);
        (uint256 paidCalls, uint256 gross) = escrow.claim(serviceId, calls);

        uint256 expected = n < affordable ? n : affordable;
        assertEq(paidCalls, expected, "paid calls");
        assertEq(gross, expected * price, "gross");
        uint256 fee = StreamMath.fee(gross, feeBps);
        assertEq(token.balanceOf(TREASURY), fee, "fee to the treasury");
        assertEq(token.balanceOf(OPERATOR), gross - fee, "rest to the operator");
        assertEq(token.balanceOf(address(escrow)), amount - gross, "escrow keeps the rest");
        assertEq(escrow.accountOf(serviceId, consumer).balance, amount - gross, "account == escrow");
        assertEq(token.balanceOf(TREASURY) + token.balanceOf(OPERATOR) + token.balanceOf(address(escrow)), amount, "conserved");
    }

    /// @notice A high-s twin of a valid signature never pays and never consumes the nonce; the original does.
    function testFuzz_highSNeverPays(uint256 keySeed, bytes32 nonce) public {
        uint256 key = _key(keySeed);
        address consumer = vm.addr(key);
        _deposit(consumer, 10, 1);
        IUsageEscrow.Call[] memory calls = new IUsageEscrow.Call[](1);
        calls[0] = _call(key, nonce);
        (uint8 v, bytes32 r, bytes32 s) =
            vm.sign(key, escrow.accessTokenDigest(serviceId, consumer, node, calls[0].expiry, nonce));
        calls[0].signature = abi.encodePacked(r, bytes32(SECP256K1_N - uint256(s)), v == 27 ? uint8(28) : uint8(27));
        vm.prank(node);
        (uint256 paidCalls,) = escrow.claim(serviceId, calls);
        assertEq(paidCalls, 0, "high s refused");
        assertTrue(!escrow.isPaid(consumer, node, nonce), "nonce not consumed");
        calls[0] = _call(key, nonce);
        vm.prank(node);
        (paidCalls,) = escrow.claim(serviceId, calls);
        assertEq(paidCalls, 1, "low s pays");
        assertEq(escrow.accountOf(serviceId, consumer).balance, 9, "one unit debited");
    }

    /// @notice Claims during the withdrawal delay: withdraw pays min(requested, balance) and the books close.
    function testFuzz_withdrawPaysMinOfRequestAndBalance(uint128 deposit, uint128 requested, uint8 claimed) public {
        uint256 key = 0xC0FFEE;
        address consumer = vm.addr(key);
        deposit = uint128(bound(deposit, 1, 1e15));
        requested = uint128(bound(requested, 1, deposit));
        claimed = uint8(bound(claimed, 0, 30));
        _deposit(consumer, deposit, 1);
        vm.prank(consumer);
        escrow.requestWithdrawal(serviceId, requested);
        uint256 gross;
        if (claimed > 0) {
            IUsageEscrow.Call[] memory calls = new IUsageEscrow.Call[](claimed);
            for (uint256 i = 0; i < claimed; ++i) calls[i] = _call(key, bytes32(i));
            vm.prank(node);
            (, gross) = escrow.claim(serviceId, calls);
        }
        vm.warp(block.timestamp + DELAY);
        vm.prank(consumer);
        uint256 out = escrow.withdraw(serviceId);
        uint256 left = deposit - gross;
        assertEq(out, requested < left ? requested : left, "min(requested, balance)");
        assertEq(token.balanceOf(consumer), out, "paid to the consumer");
        assertEq(token.balanceOf(address(escrow)), left - out, "escrow == remaining balance");
        assertEq(escrow.accountOf(serviceId, consumer).pendingWithdrawal, 0, "request cleared");
    }
}
