// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

/// @title OpenToken — the OPEN token for local and test deployments (real deployments point at OPEN).
/// @notice Fixed supply minted once to a treasury. On development chains (chain id 31337 or 1337) anyone may
/// draw from a rate-limited faucet so a newcomer can try the network without a treasury key.
contract OpenToken is ERC20, ERC20Permit, ERC20Burnable {
    /// @notice Most a single faucet call hands out (1 000 OPEN).
    uint256 public constant FAUCET_AMOUNT_MAX = 1_000 ether;
    /// @notice Time one account waits between faucet draws.
    uint64 public constant FAUCET_COOLDOWN = 1 hours;

    /// @notice Faucet used on a chain that is not a development chain.
    error OpenTokenFaucetDisabled(uint256 chainId);
    /// @notice Faucet asked for more than FAUCET_AMOUNT_MAX.
    error OpenTokenFaucetAmountTooLarge(uint256 requested, uint256 max);
    /// @notice Faucet used again before FAUCET_COOLDOWN elapsed.
    error OpenTokenFaucetCooldown(address account, uint64 nextAt);

    /// @notice Emitted when the faucet mints `amount` to `to`.
    event FaucetDrip(address indexed to, uint256 amount);

    /// @notice Last faucet draw per account.
    mapping(address account => uint64 at) public lastFaucetAt;

    /// @param treasury Receives the whole fixed supply.
    /// @param supply Total supply in wei (18 decimals).
    constructor(address treasury, uint256 supply) ERC20("Openmesh", "OPEN") ERC20Permit("Openmesh") {
        _mint(treasury, supply);
    }

    /// @notice Development chains only: mint up to FAUCET_AMOUNT_MAX to the caller, once per FAUCET_COOLDOWN.
    /// @param amount Amount in wei.
    function faucet(uint256 amount) external {
        if (block.chainid != 31337 && block.chainid != 1337) revert OpenTokenFaucetDisabled(block.chainid);
        if (amount > FAUCET_AMOUNT_MAX) revert OpenTokenFaucetAmountTooLarge(amount, FAUCET_AMOUNT_MAX);
        uint64 last = lastFaucetAt[msg.sender];
        if (last != 0 && block.timestamp < last + FAUCET_COOLDOWN) {
            revert OpenTokenFaucetCooldown(msg.sender, last + FAUCET_COOLDOWN);
        }
        lastFaucetAt[msg.sender] = uint64(block.timestamp);
        emit FaucetDrip(msg.sender, amount);
        _mint(msg.sender, amount);
    }
}
