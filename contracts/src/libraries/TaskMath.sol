// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title TaskMath — TaskManager's money math: fee, collateral, equal split with defined dust.
/// @notice Rounding is always in the protocol's favour: the fee rounds up, each signer's share rounds down and the
/// split's remainder (dust) goes to the protocol fees. Conservation: signers × share + toProtocol == reward + fee.
library TaskMath {
    /// @notice Denominator of basis-point values.
    uint256 internal constant BPS = 10_000;

    /// @notice Protocol fee on `reward`: ceil(reward × feeBps / 10 000).
    /// @param reward The reward.
    /// @param feeBps Fee in bps.
    /// @return The fee.
    function fee(uint256 reward, uint256 feeBps) internal pure returns (uint256) {
        return Math.mulDiv(reward, feeBps, BPS, Math.Rounding.Ceil);
    }

    /// @notice Collateral per seated worker: max(minCollateral, floor(reward × collateralBps / 10 000)).
    /// @param reward The reward.
    /// @param collateralBps Collateral in bps of the reward.
    /// @param minCollateral Lower bound.
    /// @return The collateral.
    function collateral(uint256 reward, uint256 collateralBps, uint256 minCollateral) internal pure returns (uint256) {
        return Math.max(minCollateral, Math.mulDiv(reward, collateralBps, BPS));
    }

    /// @notice Split reward + fee between `signers` equal shares and the protocol.
    /// @dev pot = reward + floor(fee × finalizerShareBps / 10 000); share = floor(pot / signers);
    /// dust = pot − share × signers; toProtocol = fee − (pot − reward) + dust.
    /// @param reward The escrowed reward.
    /// @param fee_ The escrowed fee.
    /// @param finalizerShareBps Share of the fee that goes to the signers.
    /// @param signers Number of signers (≥ 1).
    /// @return share Credited to each signer.
    /// @return toProtocol Added to the protocol fees (fee remainder + dust).
    /// @return dust Rounding remainder of the equal split (included in toProtocol).
    function split(uint256 reward, uint256 fee_, uint256 finalizerShareBps, uint256 signers)
        internal
        pure
        returns (uint256 share, uint256 toProtocol, uint256 dust)
    {
        uint256 fromFee = Math.mulDiv(fee_, finalizerShareBps, BPS);
        uint256 pot = reward + fromFee;
        share = pot / signers;
        dust = pot - share * signers;
        toProtocol = fee_ - fromFee + dust;
    }

    /// @notice Number of set bits.
    /// @param x The bitmap.
    /// @return count Set bits.
    function popcount(uint256 x) internal pure returns (uint256 count) {
        while (x != 0) {
            x &= x - 1;
            ++count;
        }
    }
}
