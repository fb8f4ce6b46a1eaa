// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/// @title LeaseMath — per-second lease arithmetic: end of a deposit, notice-window close, failure cutoff, fee.
/// @notice Every payout of a lease is pricePerSecond × whole seconds, so the only remainder is the "dust"
/// deposit mod pricePerSecond, which goes back to the lessee. The fee is taken out of each payout (rounded up),
/// so operator share + fee == payout exactly.
library LeaseMath {
    /// @notice Basis-point denominator (10 000 = 100 %).
    uint256 internal constant BPS = 10_000;

    /// @notice Time at which `deposit` runs out: start + floor(deposit / pricePerSecond).
    /// @dev Callers keep deposit ≤ pricePerSecond × MAX_LEASE_DURATION, so the sum fits in uint64.
    function endOf(uint64 start, uint256 deposit, uint256 pricePerSecond) internal pure returns (uint64) {
        return start + uint64(deposit / pricePerSecond);
    }

    /// @notice Cost of the seconds in [from, to): pricePerSecond × (to − from), 0 if to ≤ from.
    function cost(uint256 pricePerSecond, uint64 from, uint64 to) internal pure returns (uint256) {
        return to > from ? pricePerSecond * (to - from) : 0;
    }

    /// @notice End of a lease closed at `now_`: min(end, max(now_ + noticePeriod, start + minDuration)).
    /// The operator is paid through the notice window and the minimum term, never past the paid-for end.
    function closeEnd(uint64 start, uint64 end, uint64 now_, uint64 noticePeriod, uint64 minDuration)
        internal
        pure
        returns (uint64)
    {
        uint64 floor_ = uint64(Math.max(uint256(now_) + noticePeriod, uint256(start) + minDuration));
        return uint64(Math.min(end, floor_));
    }

    /// @notice Time through which a failed node's lease is paid: failedAt clamped to [paidThrough, end].
    /// Time already paid is never clawed back; time after the deposit ran out was never owed.
    function cutoff(uint64 failedAt, uint64 paidThrough, uint64 end) internal pure returns (uint64) {
        if (failedAt < paidThrough) return paidThrough;
        if (failedAt > end) return end;
        return failedAt;
    }

    /// @notice Protocol fee on `amount`: ceil(amount × feeBps / 10 000) (in the protocol's favour); ≤ amount for
    /// feeBps ≤ 10 000.
    function fee(uint256 amount, uint256 feeBps) internal pure returns (uint256) {
        return Math.mulDiv(amount, feeBps, BPS, Math.Rounding.Ceil);
    }
}
