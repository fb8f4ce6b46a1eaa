// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title StreamMath — linear release of an escrowed balance, and the protocol fee on what is released.
/// @notice A stream holds `balance` still to be released between `lastSettled` and `paidUntil`. Releasing is
/// linear in time, rounded down, except that at (or after) `paidUntil` exactly the whole balance is released:
/// no dust can stay behind. Rounding down never loses value: what is not released stays in the balance and
/// is released later (at the latest at `paidUntil`).
library StreamMath {
    /// @notice Basis-point denominator (10 000 = 100 %).
    uint256 internal constant BPS = 10_000;

    /// @notice Amount of `balance` released by time `until`.
    /// @param balance Unreleased escrow.
    /// @param lastSettled Time up to which the stream was released.
    /// @param paidUntil End of the stream.
    /// @param until Time to release up to (the current time, or earlier if the stream was stopped).
    /// @return amount 0 if `until <= lastSettled` or the stream is empty; `balance` if `until >= paidUntil`;
    /// otherwise floor(balance × (until − lastSettled) / (paidUntil − lastSettled)).
    function accrued(uint256 balance, uint64 lastSettled, uint64 paidUntil, uint64 until)
        internal
        pure
        returns (uint256 amount)
    {
        if (balance == 0 || paidUntil <= lastSettled || until <= lastSettled) return 0;
        if (until >= paidUntil) return balance;
        return Math.mulDiv(balance, until - lastSettled, paidUntil - lastSettled);
    }

    /// @notice Protocol fee on `amount`, rounded up (in the protocol's favour). Never exceeds `amount` for
    /// `feeBps <= BPS`.
    function fee(uint256 amount, uint256 feeBps) internal pure returns (uint256) {
        return Math.mulDiv(amount, feeBps, BPS, Math.Rounding.Ceil);
    }
}
