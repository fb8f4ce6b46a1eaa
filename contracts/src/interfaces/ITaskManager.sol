// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IStaking} from "./IStaking.sol";
import {IXnodeRegistry} from "./IXnodeRegistry.sol";

/// @title ITaskManager — compute tasks: reward escrow, seeded committee draw, one-transaction quorum report,
/// settlement, reallocation of silent workers, slashing of provable faults, refunds.
/// @notice Life of a task (docs/tasks.md has the full picture):
///   createTask ──▶ Pending ──assign (after drawBlock)──▶ Active ──reportResult (≥ q signers)──▶ Finalized
///   Active ──reallocate (report deadline passed, some slots never anchored a commit)──▶ Pending (vacant slots)
///   Pending | Active ──claim (final deadline passed, or rounds exhausted)──▶ Refunded
/// Committee members are NODE addresses (the Xnode key that signs); collateral is locked from, rewards are
/// credited to and slashes are taken from the node's OPERATOR (Staking is per operator).
/// Committee slots are 0..n-1; participants bitmap bit i = slot i. n ≤ 32.
/// Signatures are EIP-712, domain name "DSMP TaskManager", version "1", chain id, this contract:
///   Commit(uint256 taskId,address worker,bytes32 seal)   seal = keccak256(abi.encode(taskId, worker, resultHash, salt))
///   Result(uint256 taskId,bytes32 resultHash,uint256 participants)
interface ITaskManager {
    enum TaskStatus {
        None,
        Pending,
        Active,
        Finalized,
        Refunded
    }

    /// @notice What a submitter asks for.
    /// @param moduleHash sha256 of the WebAssembly module.
    /// @param inputHash sha256 of the input bytes.
    /// @param inputURI Where the input can be fetched (may be empty: fetched from the submitter's node by hash).
    /// @param resources Resources a worker must advertise at least (same struct as the registry).
    /// @param n Committee size (1..32).
    /// @param q Signers needed to finalize (1..n; 2f+1 of n = 3f+1 for critical tasks).
    /// @param reward Paid to the signers of the finalized result (the protocol fee comes on top).
    /// @param commitWindow Seconds, from a round's draw, during which workers exchange sealed commits.
    /// @param revealWindow Seconds after the commit deadline for reveal and the quorum report of that round.
    /// @param finalDeadline Timestamp after which no report is accepted and the submitter can claim a refund.
    struct TaskSpec {
        bytes32 moduleHash;
        bytes32 inputHash;
        string inputURI;
        IXnodeRegistry.Resources resources;
        uint8 n;
        uint8 q;
        uint96 reward;
        uint24 commitWindow;
        uint24 revealWindow;
        uint40 finalDeadline;
    }

    /// @notice A task as `getTask` returns it.
    /// @param submitter Who paid and gets any refund.
    /// @param status See the state machine.
    /// @param n Committee size.
    /// @param q Quorum.
    /// @param round Current round (0 = first draw; +1 per reallocation).
    /// @param reward Reward escrowed.
    /// @param fee Protocol fee escrowed on top of the reward.
    /// @param collateral Stake locked per seated worker.
    /// @param resources Resources needed.
    /// @param drawBlock Block whose hash seeds the pending draw (meaningful while Pending).
    /// @param commitDeadline Commit deadline of the current round (0 before the first draw).
    /// @param reportDeadline End of the current round's reveal / report window.
    /// @param finalDeadline Hard deadline of the task.
    /// @param commitWindow Seconds of commit phase per round.
    /// @param revealWindow Seconds of reveal / report phase per round.
    /// @param seated Bitmap of occupied slots.
    /// @param anchored Bitmap of slots whose commit was anchored on-chain this round.
    /// @param participants Bitmap of the signers of the finalized result (0 until finalized).
    /// @param resultHash Finalized result (zero until finalized).
    struct TaskInfo {
        address submitter;
        TaskStatus status;
        uint8 n;
        uint8 q;
        uint8 round;
        uint256 reward;
        uint256 fee;
        uint256 collateral;
        IXnodeRegistry.Resources resources;
        uint64 drawBlock;
        uint64 commitDeadline;
        uint64 reportDeadline;
        uint64 finalDeadline;
        uint32 commitWindow;
        uint32 revealWindow;
        uint32 seated;
        uint32 anchored;
        uint32 participants;
        bytes32 resultHash;
    }

    /// @notice Economic and assignment parameters, fixed at deployment (docs/tasks.md explains each default).
    /// @param collateralBps Collateral per seated worker in bps of the reward.
    /// @param minCollateral Lower bound of the collateral per seated worker.
    /// @param noShowPenaltyBps Penalty of a silent worker, in bps of its collateral.
    /// @param wrongResultSlashBps Slash of a signer of a losing result, in bps of the collateral.
    /// @param equivocationSlashBps Slash of an equivocating worker, in bps of the collateral (uncapped reason).
    /// @param finalizerFeeShareBps Share of the protocol fee paid to the signers of the finalized result.
    /// @param maxRounds Draw rounds per task (first draw + reallocations), 1..16.
    /// @param candidateWindow Fitting candidates gathered per draw before the weighted pick, ≥ 1.
    /// @param maxScan Registry entries examined per draw at most, ≥ candidateWindow.
    /// @param drawDelay Blocks between scheduling a draw and the block whose hash seeds it, ≥ 1.
    /// @param stakeWeightCap Free stake above this adds no draw weight.
    struct Parameters {
        uint32 collateralBps;
        uint96 minCollateral;
        uint32 noShowPenaltyBps;
        uint32 wrongResultSlashBps;
        uint32 equivocationSlashBps;
        uint16 finalizerFeeShareBps;
        uint8 maxRounds;
        uint8 candidateWindow;
        uint16 maxScan;
        uint8 drawDelay;
        uint256 stakeWeightCap;
    }

    /// @notice A required address is zero.
    error TaskManagerZeroAddress();
    /// @notice A deployment or admin parameter is out of range.
    /// @param name Parameter name, right-padded bytes32 string.
    /// @param value The rejected value.
    error TaskManagerInvalidParameter(bytes32 name, uint256 value);
    /// @notice A task spec field is out of range.
    /// @param field Field name, right-padded bytes32 string ("n", "q", "reward", "commitWindow", …).
    /// @param value The rejected value.
    error TaskManagerInvalidSpec(bytes32 field, uint256 value);
    /// @notice No task with this id.
    /// @param taskId The id.
    error TaskManagerUnknownTask(uint256 taskId);
    /// @notice The task's status does not allow this action.
    /// @param taskId The task.
    /// @param status Its status.
    error TaskManagerInvalidStatus(uint256 taskId, TaskStatus status);
    /// @notice The block seeding the draw is not mined yet.
    /// @param taskId The task.
    /// @param drawBlock The seeding block; `assign` works from drawBlock + 1.
    error TaskManagerDrawNotReady(uint256 taskId, uint256 drawBlock);
    /// @notice Fewer eligible nodes than vacant slots were found.
    /// @param taskId The task.
    /// @param found Eligible nodes found.
    /// @param needed Vacant slots.
    error TaskManagerNotEnoughEligibleNodes(uint256 taskId, uint256 found, uint256 needed);
    /// @notice A deadline has passed.
    /// @param taskId The task.
    /// @param deadline The deadline.
    error TaskManagerDeadlinePassed(uint256 taskId, uint64 deadline);
    /// @notice Called before the moment this action becomes possible.
    /// @param taskId The task.
    /// @param notBefore First timestamp at which it is possible (exclusive).
    error TaskManagerTooEarly(uint256 taskId, uint64 notBefore);
    /// @notice Fewer signers than the quorum.
    /// @param taskId The task.
    /// @param signers Signers in the report.
    /// @param quorum Required signers.
    error TaskManagerQuorumNotMet(uint256 taskId, uint256 signers, uint256 quorum);
    /// @notice The participants bitmap names a slot that is out of range or not seated.
    /// @param taskId The task.
    /// @param participants The bitmap.
    error TaskManagerInvalidParticipants(uint256 taskId, uint256 participants);
    /// @notice The number of signatures differs from the number of set bits of `participants`.
    /// @param bits Set bits.
    /// @param signatures Signatures given.
    error TaskManagerSignatureCountMismatch(uint256 bits, uint256 signatures);
    /// @notice A signature is not by the node seated in its slot (or is malformed).
    /// @param taskId The task.
    /// @param slot The slot.
    /// @param expected Node seated in the slot.
    /// @param recovered Recovered signer (zero if malformed).
    error TaskManagerInvalidSignature(uint256 taskId, uint256 slot, address expected, address recovered);
    /// @notice The node is not seated in the task's committee.
    /// @param taskId The task.
    /// @param node The node.
    error TaskManagerNotCommitteeMember(uint256 taskId, address node);
    /// @notice The two signed statements do not conflict (same seal / same result), or are not by one signer.
    /// @param taskId The task.
    error TaskManagerNoConflict(uint256 taskId);
    /// @notice This node was already slashed for this reason on this task.
    /// @param taskId The task.
    /// @param node The node.
    /// @param reasonCode Staking reason code.
    error TaskManagerAlreadySlashed(uint256 taskId, address node, uint8 reasonCode);
    /// @notice The signer is not a registered node.
    /// @param node The recovered signer.
    error TaskManagerUnknownNode(address node);
    /// @notice Only the submitter may do this.
    /// @param taskId The task.
    /// @param caller The caller.
    error TaskManagerNotSubmitter(uint256 taskId, address caller);
    /// @notice Every seated worker anchored a commit: nobody to replace.
    /// @param taskId The task.
    error TaskManagerNothingToReallocate(uint256 taskId);
    /// @notice The task used all its draw rounds.
    /// @param taskId The task.
    /// @param maxRounds Rounds allowed.
    error TaskManagerRoundsExhausted(uint256 taskId, uint8 maxRounds);
    /// @notice Nothing to withdraw.
    /// @param account The account.
    error TaskManagerNothingToWithdraw(address account);
    /// @notice Slot index out of range or vacant.
    /// @param taskId The task.
    /// @param slot The slot.
    error TaskManagerInvalidSlot(uint256 taskId, uint256 slot);

    /// @notice A task was created and its reward + fee escrowed; its first draw is seeded by `drawBlock`.
    /// @param taskId The new id (1, 2, …).
    /// @param submitter Who paid.
    /// @param moduleHash sha256 of the module.
    /// @param inputHash sha256 of the input.
    /// @param n Committee size.
    /// @param q Quorum.
    /// @param reward Reward escrowed.
    /// @param fee Protocol fee escrowed.
    /// @param spec The full spec (input URI, resources, windows, final deadline).
    /// @param drawBlock Block whose hash seeds the first draw.
    event TaskCreated(
        uint256 indexed taskId,
        address indexed submitter,
        bytes32 moduleHash,
        bytes32 inputHash,
        uint8 n,
        uint8 q,
        uint256 reward,
        uint256 fee,
        TaskSpec spec,
        uint256 drawBlock
    );
    /// @notice A draw was scheduled (after a reallocation) or re-targeted (seed block older than 256 blocks).
    /// @param taskId The task.
    /// @param round The round the draw is for.
    /// @param drawBlock Block whose hash seeds it.
    event DrawScheduled(uint256 indexed taskId, uint8 round, uint256 drawBlock);
    /// @notice A node was seated in a slot; it locked `collateral` of its operator's stake.
    /// @param taskId The task.
    /// @param slot Slot index.
    /// @param node Node address.
    /// @param round Round of the draw.
    /// @param operator The node's operator.
    /// @param collateral Stake locked.
    event TaskAssigned(
        uint256 indexed taskId, uint8 slot, address indexed node, uint8 round, address operator, uint256 collateral
    );
    /// @notice A round's committee is complete; its commit and report windows start now.
    /// @param taskId The task.
    /// @param round The round.
    /// @param commitDeadline End of the commit phase.
    /// @param reportDeadline End of the reveal / report phase (reallocation possible after it).
    event RoundStarted(uint256 indexed taskId, uint8 round, uint64 commitDeadline, uint64 reportDeadline);
    /// @notice A worker's signed commit was put on-chain (only needed when a round may fail: it protects the
    /// worker from being replaced as silent).
    /// @param taskId The task.
    /// @param slot Its slot.
    /// @param node The worker.
    /// @param seal The sealed commit.
    event CommitAnchored(uint256 indexed taskId, uint8 slot, address indexed node, bytes32 seal);
    /// @notice A quorum report finalized the task; signers were credited, collateral released.
    /// @param taskId The task.
    /// @param resultHash The result.
    /// @param participants Bitmap of signers.
    /// @param transmitter Who sent the report (gets nothing for it).
    /// @param sharePerSigner Credited to each signer's operator.
    /// @param dust Rounding remainder, added to protocol fees.
    event TaskFinalized(
        uint256 indexed taskId,
        bytes32 resultHash,
        uint256 participants,
        address transmitter,
        uint256 sharePerSigner,
        uint256 dust
    );
    /// @notice The submitter got reward + fee back; collateral released.
    /// @param taskId The task.
    /// @param submitter The submitter.
    /// @param amount Refunded.
    event TaskRefunded(uint256 indexed taskId, address indexed submitter, uint256 amount);
    /// @notice A worker's operator was slashed for a fault on this task.
    /// @param taskId The task.
    /// @param node The worker.
    /// @param reason Staking reason code (1 equivocation, 2 wrong result, 3 no-show).
    /// @param amount Amount actually taken by Staking.
    /// @param beneficiary Reporter paid by Staking (zero for no-shows).
    event WorkerSlashed(
        uint256 indexed taskId, address indexed node, uint8 reason, uint256 amount, address beneficiary
    );
    /// @notice A silent worker left its slot (collateral released after the penalty); a new draw fills it.
    /// @param taskId The task.
    /// @param slot The slot.
    /// @param node The worker.
    /// @param round The round it failed.
    event SlotVacated(uint256 indexed taskId, uint8 slot, address indexed node, uint8 round);
    /// @notice A vacated slot got a new occupant.
    /// @param taskId The task.
    /// @param slot The slot (keeps its index).
    /// @param oldNode Previous occupant.
    /// @param newNode New occupant.
    /// @param round Round of the new draw.
    event WorkerReplaced(uint256 indexed taskId, uint8 slot, address oldNode, address newNode, uint8 round);
    /// @notice Credited rewards were paid out.
    /// @param account Receiver.
    /// @param amount Amount.
    event RewardsWithdrawn(address indexed account, uint256 amount);
    /// @notice Accrued protocol fees were sent to the treasury.
    /// @param treasury Receiver.
    /// @param amount Amount.
    event FeesWithdrawn(address indexed treasury, uint256 amount);
    /// @notice The protocol fee for future tasks changed.
    /// @param feeBps New fee in bps of the reward.
    event ProtocolFeeSet(uint16 feeBps);
    /// @notice The fee receiver changed.
    /// @param treasury New treasury.
    event TreasurySet(address treasury);

    /// @notice Escrow `spec.reward` + the protocol fee from the caller (ERC-20 allowance) and create a task;
    /// its first draw is seeded by the hash of block `block.number + drawDelay`.
    /// @param spec The task.
    /// @return taskId The new id.
    function createTask(TaskSpec calldata spec) external returns (uint256 taskId);
    /// @notice Anyone: fill the vacant slots of a Pending task once its draw block is mined. Seeds with
    /// blockhash(drawBlock); if that hash is no longer available (> 256 blocks) re-targets the draw instead.
    /// Each seated node locks the task's collateral from its operator's stake.
    /// @param taskId The task.
    function assign(uint256 taskId) external;
    /// @notice Anyone: put a seated worker's signed commit on-chain during its round (before the report deadline),
    /// so `reallocate` does not treat it as silent.
    /// @param taskId The task.
    /// @param slot The worker's slot.
    /// @param seal The sealed commit.
    /// @param signature EIP-712 Commit(taskId, worker, seal) by the worker.
    function anchorCommit(uint256 taskId, uint8 slot, bytes32 seal, bytes calldata signature) external;
    /// @notice Anyone: finalize with ≥ q distinct seated signers of Result(taskId, resultHash, participants).
    /// @param taskId The task.
    /// @param resultHash sha256 of the output.
    /// @param participants Bitmap of signer slots.
    /// @param signatures One per set bit, in ascending slot order.
    function reportResult(uint256 taskId, bytes32 resultHash, uint256 participants, bytes[] calldata signatures)
        external;
    /// @notice Anyone, after an Active round's report deadline: penalise and vacate every seated slot that did not
    /// anchor a commit, and schedule a new draw for them (bounded by maxRounds).
    /// @param taskId The task.
    function reallocate(uint256 taskId) external;
    /// @notice Submitter: refund reward + fee once the final deadline passed, or once the last round's report
    /// deadline passed without a quorum (silent seated workers are penalised as in `reallocate`).
    /// @param taskId The task.
    function claim(uint256 taskId) external;
    /// @notice Anyone: prove that `worker` signed two different seals for one task; slashes its operator
    /// (equivocation, uncapped) and Staking pays the caller the beneficiary share.
    /// @param taskId The task.
    /// @param worker The node.
    /// @param sealA First seal.
    /// @param signatureA Commit signature over sealA.
    /// @param sealB Second seal (≠ sealA).
    /// @param signatureB Commit signature over sealB.
    function proveCommitEquivocation(
        uint256 taskId,
        address worker,
        bytes32 sealA,
        bytes calldata signatureA,
        bytes32 sealB,
        bytes calldata signatureB
    ) external;
    /// @notice Anyone: prove that one node signed Results with two different result hashes for one task.
    /// @param taskId The task.
    /// @param resultA First result hash.
    /// @param participantsA Participants of the first signed Result.
    /// @param signatureA Signature over the first.
    /// @param resultB Second result hash (≠ resultA).
    /// @param participantsB Participants of the second signed Result.
    /// @param signatureB Signature over the second.
    function proveResultEquivocation(
        uint256 taskId,
        bytes32 resultA,
        uint256 participantsA,
        bytes calldata signatureA,
        bytes32 resultB,
        uint256 participantsB,
        bytes calldata signatureB
    ) external;
    /// @notice Anyone, after finalization: prove that a member of the final committee signed a result other than
    /// the finalized one; slashes its operator (wrong result) and Staking pays the caller the beneficiary share.
    /// @param taskId The task.
    /// @param resultHash The losing result.
    /// @param participants Participants of that signed Result.
    /// @param signature The member's signature.
    function proveWrongResult(uint256 taskId, bytes32 resultHash, uint256 participants, bytes calldata signature)
        external;
    /// @notice Pay the caller its credited rewards.
    /// @return amount Amount paid.
    function withdrawRewards() external returns (uint256 amount);
    /// @notice Anyone: send accrued protocol fees to the treasury.
    /// @return amount Amount sent.
    function withdrawFees() external returns (uint256 amount);
    /// @notice DEFAULT_ADMIN_ROLE: protocol fee for future tasks (≤ 2000 bps).
    /// @param feeBps Fee in bps of the reward.
    function setProtocolFee(uint16 feeBps) external;
    /// @notice DEFAULT_ADMIN_ROLE: fee receiver.
    /// @param treasury New treasury (non-zero).
    function setTreasury(address treasury) external;

    /// @notice A task.
    /// @param taskId The task.
    /// @return info Its state.
    function getTask(uint256 taskId) external view returns (TaskInfo memory info);
    /// @notice Current occupant of each slot (zero for a vacant slot).
    /// @param taskId The task.
    /// @return nodes n node addresses.
    function committeeOf(uint256 taskId) external view returns (address[] memory nodes);
    /// @notice Tasks a node currently holds (never above its registry slots when assigned).
    /// @param node The node.
    /// @return count Active assignments.
    function activeTasksOf(address node) external view returns (uint256 count);
    /// @notice Tasks created so far (ids are 1..taskCount).
    /// @return count The number.
    function taskCount() external view returns (uint256 count);
    /// @notice Rewards credited to an operator and not yet withdrawn.
    /// @param account The operator.
    /// @return amount Amount.
    function rewardsOf(address account) external view returns (uint256 amount);
    /// @notice Protocol fees accrued and not yet sent to the treasury.
    /// @return amount Amount.
    function accruedFees() external view returns (uint256 amount);
    /// @notice Protocol fee for new tasks, in bps of the reward.
    /// @return feeBps The fee.
    function protocolFeeBps() external view returns (uint16 feeBps);
    /// @notice Fee receiver.
    /// @return treasury_ The treasury.
    function treasury() external view returns (address treasury_);
    /// @notice The deployment parameters.
    /// @return params Parameters.
    function parameters() external view returns (Parameters memory params);
    /// @notice Collateral each seated worker locks for a task with this reward.
    /// @param reward The reward.
    /// @return amount max(minCollateral, reward × collateralBps / 10 000).
    function collateralFor(uint256 reward) external view returns (uint256 amount);
    /// @notice EIP-712 digest of Commit(taskId, worker, seal).
    /// @param taskId The task.
    /// @param worker The node.
    /// @param seal The seal.
    /// @return digest The digest the node signs.
    function commitDigest(uint256 taskId, address worker, bytes32 seal) external view returns (bytes32 digest);
    /// @notice EIP-712 digest of Result(taskId, resultHash, participants).
    /// @param taskId The task.
    /// @param resultHash The result.
    /// @param participants The participants bitmap.
    /// @return digest The digest each signer signs.
    function resultDigest(uint256 taskId, bytes32 resultHash, uint256 participants)
        external
        view
        returns (bytes32 digest);
    /// @notice The payment token.
    /// @return token_ The token.
    function token() external view returns (IERC20 token_);
    /// @notice The Staking contract (collateral and slashes).
    /// @return staking_ Staking.
    function staking() external view returns (IStaking staking_);
    /// @notice The Xnode registry (eligibility).
    /// @return registry_ The registry.
    function registry() external view returns (IXnodeRegistry registry_);
}
