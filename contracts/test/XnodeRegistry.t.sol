// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {Staking} from "../src/Staking.sol";
import {XnodeRegistry} from "../src/XnodeRegistry.sol";
import {IStaking} from "../src/interfaces/IStaking.sol";
import {IXnodeRegistry} from "../src/interfaces/IXnodeRegistry.sol";
import {MockERC20} from "../src/mocks/MockERC20.sol";
import {TestBase} from "./lib/Vm.sol";

/// @notice Fuzz tests for XnodeRegistry's identity derivation and proof of possession.
/// @dev Hardhat does not serve `createWallet`, so signing tests use one fixed node key whose public key is known:
/// the secp256k1 test vector of the libp2p peer-id spec. Random keys are covered by XnodeRegistry.test.ts.
contract XnodeRegistryFuzzTest is TestBase {
    uint256 internal constant SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141;
    uint256 internal constant NODE_KEY = 0x53dadf1d5a164d6b4acdb15e24aa4c5b1d3461bdbd42abedb0a4404d56ced8fb;
    bytes32 internal constant NODE_X = 0x7777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99;
    bytes32 internal constant NODE_Y = 0x1b41b30efa52b659e9db235c31f9975578a17e2b356a6b84837b5b45c555cfb1;
    uint256 internal constant BOND = 1_000 ether;

    MockERC20 internal token;
    Staking internal staking;
    XnodeRegistry internal registry;
    address internal node;

    function setUp() public {
        token = new MockERC20("Openmesh", "OPEN", 18);
        staking = new Staking(IERC20(address(token)), address(this), address(0x7E45));
        registry = new XnodeRegistry(IStaking(address(staking)), address(this), BOND);
        staking.grantRole(staking.LOCKER_ROLE(), address(registry));
        node = vm.addr(NODE_KEY);
    }

    function _fund(address operator, uint256 amount) internal {
        token.mint(operator, amount);
        vm.startPrank(operator);
        token.approve(address(staking), amount);
        staking.stake(amount);
        vm.stopPrank();
    }

    function _resources() internal pure returns (IXnodeRegistry.Resources memory) {
        return IXnodeRegistry.Resources({cpuMillicores: 1_000, memoryMiB: 2_048, storageGiB: 10, gpus: 0});
    }

    function _sign(uint256 key, address operator, uint256 nonce, uint256 deadline) internal view returns (bytes memory) {
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(key, registry.registrationDigest(operator, node, nonce, deadline));
        return abi.encodePacked(r, s, v);
    }

    /// @notice For any 64 bytes: address = keccak256(key)[12:], PeerId = 0x002508021221 || (Y odd ? 03 : 02) || X.
    function testFuzz_deriveIdentity(bytes32 x, bytes32 y) public view {
        (address derived, bytes memory peerId) = registry.deriveIdentity(abi.encodePacked(x, y));
        assertTrue(derived == address(uint160(uint256(keccak256(abi.encodePacked(x, y))))), "node address");
        bytes memory expected =
            abi.encodePacked(bytes6(0x002508021221), uint256(y) % 2 == 1 ? bytes1(0x03) : bytes1(0x02), x);
        assertEq(peerId.length, 39, "peerId length");
        assertTrue(keccak256(peerId) == keccak256(expected), "peerId bytes");
    }

    /// @notice Any key length other than 64 is rejected with the length.
    function testFuzz_rejectsBadKeyLength(bytes calldata key) public {
        vm.assume(key.length != 64);
        vm.expectRevert(abi.encodeWithSelector(IXnodeRegistry.XnodeRegistryInvalidPublicKey.selector, key.length));
        registry.deriveIdentity(key);
    }

    /// @notice A valid proof registers for any operator and deadline; bond locked; nonce consumed; no reuse.
    function testFuzz_registerWithProof(address operator, uint256 lifetime, uint256 stake) public {
        vm.assume(operator.code.length == 0 && uint160(operator) > 0xffff && operator != address(vm));
        stake = bound(stake, BOND, BOND * 1_000);
        _fund(operator, stake);
        uint256 deadline = block.timestamp + bound(lifetime, 0, 365 days);
        bytes memory signature = _sign(NODE_KEY, operator, 0, deadline);

        vm.prank(operator);
        registry.register(abi.encodePacked(NODE_X, NODE_Y), _resources(), 1, "", deadline, signature);
        assertTrue(registry.isActive(node), "active");
        assertEq(registry.nonces(node), 1, "nonce consumed");
        assertEq(staking.freeStakeOf(operator), stake - BOND, "bond locked");

        vm.prank(operator);
        registry.retire(node);
        assertEq(staking.freeStakeOf(operator), stake, "bond released");
        vm.expectPartialRevert(IXnodeRegistry.XnodeRegistryInvalidSignature.selector);
        vm.prank(operator);
        registry.register(abi.encodePacked(NODE_X, NODE_Y), _resources(), 1, "", deadline, signature);
    }

    /// @notice A proof signed by any other key is rejected, naming the recovered signer.
    function testFuzz_rejectsOtherSigner(uint256 otherSeed) public {
        uint256 otherKey = bound(otherSeed, 1, SECP256K1_N - 1);
        vm.assume(otherKey != NODE_KEY);
        address operator = address(0x0BE4);
        _fund(operator, BOND);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(otherKey, operator, 0, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IXnodeRegistry.XnodeRegistryInvalidSignature.selector, node, vm.addr(otherKey))
        );
        vm.prank(operator);
        registry.register(abi.encodePacked(NODE_X, NODE_Y), _resources(), 1, "", deadline, signature);
    }

    /// @notice Free stake below the bond is rejected with have / need, whatever the amounts.
    function testFuzz_insufficientStake(uint256 stake) public {
        stake = bound(stake, 0, BOND - 1);
        address operator = address(0x0BE4);
        if (stake != 0) _fund(operator, stake);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory signature = _sign(NODE_KEY, operator, 0, deadline);
        vm.expectRevert(
            abi.encodeWithSelector(IXnodeRegistry.XnodeRegistryInsufficientStake.selector, operator, stake, BOND)
        );
        vm.prank(operator);
        registry.register(abi.encodePacked(NODE_X, NODE_Y), _resources(), 1, "", deadline, signature);
    }
}
