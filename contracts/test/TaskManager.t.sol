// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {TaskMath} from "../src/libraries/TaskMath.sol";
import {TestBase} from "./lib/Vm.sol";

/// @notice Fuzz tests for TaskManager's money math (TaskMath).
contract TaskMathFuzzTest is TestBase {
    uint256 internal constant MAX_REWARD = type(uint96).max;

    /// @notice The split conserves value: signers × share + toProtocol == reward + fee; dust < signers;
    /// signers get at least the reward between them and never more than reward + fee.
    function testFuzz_splitConserves(uint256 reward, uint256 feeBps, uint256 shareBps, uint256 signers) public pure {
        reward = bound(reward, 1, MAX_REWARD);
        feeBps = bound(feeBps, 0, 2_000);
        shareBps = bound(shareBps, 0, 10_000);
        signers = bound(signers, 1, 32);
        uint256 fee = TaskMath.fee(reward, feeBps);
        (uint256 share, uint256 toProtocol, uint256 dust) = TaskMath.split(reward, fee, shareBps, signers);
        assertEq(share * signers + toProtocol, reward + fee, "conservation");
        assertTrue(dust < signers, "dust below one unit per signer");
        assertTrue(share * signers + dust >= reward, "signers get the whole reward");
        assertLe(toProtocol, fee + dust, "protocol takes at most fee + dust");
    }

    /// @notice The fee rounds up (protocol's favour) and is exact when divisible.
    function testFuzz_feeRoundsUp(uint256 reward, uint256 feeBps) public pure {
        reward = bound(reward, 0, MAX_REWARD);
        feeBps = bound(feeBps, 0, 2_000);
        uint256 fee = TaskMath.fee(reward, feeBps);
        assertTrue(fee * 10_000 >= reward * feeBps, "not below the exact fee");
        assertTrue(fee * 10_000 < reward * feeBps + 10_000, "less than one unit above");
    }

    /// @notice Collateral is never below the minimum nor below its bps of the reward.
    function testFuzz_collateral(uint256 reward, uint256 bps, uint256 minCollateral) public pure {
        reward = bound(reward, 0, MAX_REWARD);
        bps = bound(bps, 0, 100_000);
        minCollateral = bound(minCollateral, 0, MAX_REWARD);
        uint256 c = TaskMath.collateral(reward, bps, minCollateral);
        assertTrue(c >= minCollateral, "min");
        assertTrue(c * 10_000 + 10_000 > reward * bps, "bps");
    }

    /// @notice popcount matches a bit-by-bit count.
    function testFuzz_popcount(uint256 x) public pure {
        uint256 count;
        for (uint256 i = 0; i < 256; ++i) {
            if ((x >> i) & 1 == 1) ++count;
        }
        assertEq(TaskMath.popcount(x), count, "popcount");
    }
}
