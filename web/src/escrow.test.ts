import { describe, expect, it } from "vitest";
import { escrowView, type EscrowAccount } from "./escrow.ts";

const NOW = 1_800_000_000;
const acct = (over: Partial<EscrowAccount> = {}): EscrowAccount => ({ balance: 0n, pricePerCall: 0n, pendingWithdrawal: 0n, withdrawableAt: 0n, ...over });

describe("escrowView", () => {
  it.each([
    ["never deposited", acct(), 10n, { empty: true, outdated: false, chargedPrice: 0n, callsCovered: 0n, withdrawal: { kind: "none" } }],
    ["funded at the current price", acct({ balance: 55n, pricePerCall: 10n }), 10n, { empty: false, outdated: false, chargedPrice: 10n, callsCovered: 5n }],
    ["price raised since the deposit: providers refuse until a re-agreement", acct({ balance: 50n, pricePerCall: 10n }), 20n, { outdated: true, chargedPrice: 10n, callsCovered: 0n }],
    ["price cut since the deposit: the lower price applies", acct({ balance: 50n, pricePerCall: 10n }), 5n, { outdated: false, chargedPrice: 5n, callsCovered: 10n }],
    ["a pending withdrawal is not spendable", acct({ balance: 50n, pricePerCall: 10n, pendingWithdrawal: 30n, withdrawableAt: BigInt(NOW + 90) }), 10n, {
      callsCovered: 2n,
      withdrawal: { kind: "waiting", amount: 30n, at: BigInt(NOW + 90), secondsLeft: 90 },
    }],
    ["withdrawal ready, claims took part of it", acct({ balance: 20n, pricePerCall: 10n, pendingWithdrawal: 30n, withdrawableAt: BigInt(NOW) }), 10n, {
      callsCovered: 0n,
      withdrawal: { kind: "ready", amount: 30n, payable: 20n },
    }],
  ] as const)("%s", (_name, account, price, expected) => {
    expect(escrowView(account, price, NOW)).toMatchObject(expected);
  });
});
