// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @notice Malicious token for reentrancy tests: on every transfer/transferFrom it calls `target` with `payload`
/// once (when armed) and records whether the reentrant call succeeded and what it returned. Tests only.
contract ReentrantERC20 is ERC20 {
    address public target;
    bytes public payload;
    bool public armed;
    bool public lastCallOk;
    bytes public lastReturn;
    uint256 public attempts;

    constructor() ERC20("Reentrant", "REE") {}

    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Arm the attack: the next token movement calls `target_` with `payload_`.
    function arm(address target_, bytes calldata payload_) external {
        target = target_;
        payload = payload_;
        armed = true;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (armed) {
            armed = false;
            attempts += 1;
            (bool ok, bytes memory ret) = target.call(payload);
            lastCallOk = ok;
            lastReturn = ret;
        }
    }
}
