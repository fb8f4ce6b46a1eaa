// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {IStaking} from "./interfaces/IStaking.sol";
import {ITaskManager} from "./interfaces/ITaskManager.sol";
import {IXnodeRegistry} from "./interfaces/IXnodeRegistry.sol";
import {TaskMath} from "./libraries/TaskMath.sol";

/// @title TaskManager — compute tasks with a seeded, resource-aware committee draw and a one-transaction quorum.
/// @notice Needs LOCKER_ROLE and SLASHER_ROLE on Staking. See ITaskManager and docs/tasks.md.
/// @dev Gas shape: a task is three packed storage slots plus one for its result; the committee is stored as
/// 32-bit node ids, eight per slot; per-node state (operator, id, active and completed counts) is one slot that
/// never returns to zero; rewards are credited (pull) rather than transferred. Committee size is capped at 32 so
/// every bitmap fits a uint32.
contract TaskManager is ITaskManager, AccessControl, EIP712, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice EIP-712 type of a sealed commit.
    bytes32 public constant COMMIT_TYPEHASH = keccak256("Commit(uint256 taskId,address worker,bytes32 seal)");
    /// @notice EIP-712 type of a signed result.
    bytes32 public constant RESULT_TYPEHASH =
        keccak256("Result(uint256 taskId,bytes32 resultHash,uint256 participants)");
    /// @notice Largest committee.
    uint8 public constant MAX_COMMITTEE = 32;
    /// @notice Highest protocol fee.
    uint16 public constant MAX_PROTOCOL_FEE_BPS = 2_000;

    uint8 private constant REASON_EQUIVOCATION = 1;
    uint8 private constant REASON_WRONG_RESULT = 2;
    uint8 private constant REASON_NO_SHOW = 3;

    /// @dev Packed task: slot 0 (who / state / participants / vacancies: everything reportResult writes besides
    /// the result), slot 1 (money / deadline / anchored commits / cpu), slot 2 (other needs / round timing),
    /// slot 3 (result, written on finalization). reportResult reads slots 0–1 and writes slots 0 and 3 only;
    /// anchorCommit (the fallback path) pays for the second slot instead. The fee is kept as the bps in force at
    /// creation (the amount is recomputed exactly).
    struct Task {
        address submitter;
        TaskStatus status;
        uint8 n;
        uint8 q;
        uint8 round;
        uint32 participants;
        uint32 vacant;
        uint96 reward;
        uint16 feeBps;
        uint40 finalDeadline;
        uint24 commitWindow;
        uint32 anchored;
        uint32 cpuMillicores;
        uint32 memoryMiB;
        uint32 storageGiB;
        uint16 gpus;
        uint40 drawBlock;
        uint40 commitDeadline;
        uint24 revealWindow;
        bytes32 resultHash;
    }

    /// @dev One slot per node ever seated; `id` > 0 once seated, so the slot never goes back to zero.
    struct NodeState {
        address operator;
        uint32 id;
        uint32 active;
        uint32 completed;
    }

    struct Candidate {
        address node;
        address operator;
        uint256 weight;
    }

    /// @dev Collateral this contract holds locked in Staking for an operator, and the part booked by running seats.
    struct Bond {
        uint128 held;
        uint128 inUse;
    }

    /// @dev A draw in progress: candidates still in the pool and their total weight.
    struct Pool {
        uint256 seed;
        uint256 collateral;
        uint256 needed;
        uint256 found;
        uint256 totalWeight;
        Candidate[] list;
    }

    IERC20 private immutable TOKEN;
    IStaking private immutable STAKING;
    IXnodeRegistry private immutable REGISTRY;

    uint32 private immutable COLLATERAL_BPS;
    uint96 private immutable MIN_COLLATERAL;
    uint32 private immutable NO_SHOW_PENALTY_BPS;
    uint32 private immutable WRONG_RESULT_SLASH_BPS;
    uint32 private immutable EQUIVOCATION_SLASH_BPS;
    uint16 private immutable FINALIZER_FEE_SHARE_BPS;
    uint8 private immutable MAX_ROUNDS;
    uint8 private immutable CANDIDATE_WINDOW;
    uint16 private immutable MAX_SCAN;
    uint8 private immutable DRAW_DELAY;
    uint256 private immutable STAKE_WEIGHT_CAP;

    /// @inheritdoc ITaskManager
    address public treasury;
    /// @inheritdoc ITaskManager
    uint16 public protocolFeeBps;
    /// @dev Shares the treasury's slot, which createTask reads anyway for the fee: one cold slot per create.
    uint80 private _taskCount;
    /// @inheritdoc ITaskManager
    uint256 public accruedFees;
    /// @inheritdoc ITaskManager
    mapping(address account => uint256 amount) public rewardsOf;

    mapping(uint256 taskId => Task task) private _tasks;
    mapping(uint256 taskId => mapping(uint256 word => uint256 ids)) private _committee;
    mapping(address node => NodeState state) private _nodes;
    mapping(address operator => Bond bond) private _bonds;
    mapping(uint32 id => address node) private _nodeById;
    uint32 private _nodeIds;
    mapping(uint256 taskId => mapping(address node => uint8 reasons)) private _slashed;

    /// @notice Deploy; then grant this contract LOCKER_ROLE and SLASHER_ROLE on `staking_`.
    /// @param token_ Payment token (OPEN).
    /// @param staking_ Staking (collateral, slashes).
    /// @param registry_ Xnode registry (eligibility).
    /// @param admin Receives DEFAULT_ADMIN_ROLE (fee and treasury).
    /// @param treasury_ Receives protocol fees.
    /// @param feeBps Protocol fee in bps of the reward (≤ MAX_PROTOCOL_FEE_BPS).
    /// @param params Fixed parameters (see ITaskManager.Parameters).
    constructor(
        IERC20 token_,
        IStaking staking_,
        IXnodeRegistry registry_,
        address admin,
        address treasury_,
        uint16 feeBps,
        Parameters memory params
    ) EIP712("DSMP TaskManager", "1") {
        if (
            address(token_) == address(0) || address(staking_) == address(0) || address(registry_) == address(0)
                || admin == address(0)
        ) revert TaskManagerZeroAddress();
        _checkParameters(params);
        TOKEN = token_;
        STAKING = staking_;
        REGISTRY = registry_;
        COLLATERAL_BPS = params.collateralBps;
        MIN_COLLATERAL = params.minCollateral;
        NO_SHOW_PENALTY_BPS = params.noShowPenaltyBps;
        WRONG_RESULT_SLASH_BPS = params.wrongResultSlashBps;
        EQUIVOCATION_SLASH_BPS = params.equivocationSlashBps;
        FINALIZER_FEE_SHARE_BPS = params.finalizerFeeShareBps;
        MAX_ROUNDS = params.maxRounds;
        CANDIDATE_WINDOW = params.candidateWindow;
        MAX_SCAN = params.maxScan;
        DRAW_DELAY = params.drawDelay;
        STAKE_WEIGHT_CAP = params.stakeWeightCap;
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _setTreasury(treasury_);
        _setProtocolFee(feeBps);
    }

    // ---------------------------------------------------------------- submitter

    /// @inheritdoc ITaskManager
    function createTask(TaskSpec calldata spec) external nonReentrant returns (uint256 taskId) {
        _checkSpec(spec);
        uint16 feeBps = protocolFeeBps;
        uint256 fee = TaskMath.fee(spec.reward, feeBps);
        if (fee > type(uint96).max) revert TaskManagerInvalidSpec("reward", spec.reward);
        taskId = ++_taskCount;
        uint40 drawBlock = uint40(block.number + DRAW_DELAY);
        uint32 all = _fullMask(spec.n);

        Task storage t = _tasks[taskId];
        t.submitter = msg.sender;
        t.status = TaskStatus.Pending;
        t.n = spec.n;
        t.q = spec.q;
        t.vacant = all;
        t.reward = spec.reward;
        t.feeBps = feeBps;
        t.finalDeadline = spec.finalDeadline;
        t.commitWindow = spec.commitWindow;
        t.cpuMillicores = spec.resources.cpuMillicores;
        t.memoryMiB = spec.resources.memoryMiB;
        t.storageGiB = spec.resources.storageGiB;
        t.gpus = spec.resources.gpus;
        t.drawBlock = drawBlock;
        t.revealWindow = spec.revealWindow;

        emit TaskCreated(
            taskId, msg.sender, spec.moduleHash, spec.inputHash, spec.n, spec.q, spec.reward, fee, spec, drawBlock
        );
        TOKEN.safeTransferFrom(msg.sender, address(this), uint256(spec.reward) + fee);
    }

    /// @inheritdoc ITaskManager
    function claim(uint256 taskId) external nonReentrant {
        Task storage t = _task(taskId);
        TaskStatus status = t.status;
        if (status != TaskStatus.Pending && status != TaskStatus.Active) revert TaskManagerInvalidStatus(taskId, status);
        if (msg.sender != t.submitter) revert TaskManagerNotSubmitter(taskId, msg.sender);

        uint64 reportDeadline = _reportDeadline(t);
        bool roundOver = status == TaskStatus.Active && block.timestamp > reportDeadline;
        bool exhausted = roundOver && t.round + 1 >= MAX_ROUNDS;
        if (block.timestamp <= t.finalDeadline && !exhausted) {
            revert TaskManagerTooEarly(taskId, t.finalDeadline);
        }

        uint256 collateral = _collateral(t.reward);
        uint32 seated = _fullMask(t.n) & ~t.vacant;
        if (roundOver) seated &= ~_vacateSilent(taskId, t, seated, collateral);
        _releaseSeated(taskId, t.n, seated, collateral);

        uint256 amount = uint256(t.reward) + _fee(t);
        t.status = TaskStatus.Refunded;
        t.vacant = _fullMask(t.n);
        emit TaskRefunded(taskId, msg.sender, amount);
        TOKEN.safeTransfer(msg.sender, amount);
    }

    // ---------------------------------------------------------------- draw and rounds

    /// @inheritdoc ITaskManager
    function assign(uint256 taskId) external nonReentrant {
        Task storage t = _task(taskId);
        if (t.status != TaskStatus.Pending) revert TaskManagerInvalidStatus(taskId, t.status);
        uint256 drawBlock = t.drawBlock;
        if (block.number <= drawBlock) revert TaskManagerDrawNotReady(taskId, drawBlock);
        bytes32 seedBlockHash = blockhash(drawBlock);
        if (seedBlockHash == bytes32(0)) {
            // The seed block is more than 256 blocks old: its hash is gone. Re-target to a future block rather
            // than fall back to something the caller could pick.
            uint40 next = uint40(block.number + DRAW_DELAY);
            t.drawBlock = next;
            emit DrawScheduled(taskId, t.round, next);
            return;
        }
        uint256 seed = uint256(keccak256(abi.encode(seedBlockHash, address(this), taskId, t.round)));
        _draw(taskId, t, seed);
    }

    /// @inheritdoc ITaskManager
    function anchorCommit(uint256 taskId, uint8 slot, bytes32 seal, bytes calldata signature) external {
        Task storage t = _task(taskId);
        if (t.status != TaskStatus.Active) revert TaskManagerInvalidStatus(taskId, t.status);
        uint64 reportDeadline = _reportDeadline(t);
        if (block.timestamp > reportDeadline) revert TaskManagerDeadlinePassed(taskId, reportDeadline);
        if (slot >= t.n) revert TaskManagerInvalidSlot(taskId, slot);
        address node = _member(taskId, slot);
        address signer = _recoverCalldata(commitDigest(taskId, node, seal), signature);
        if (signer != node) revert TaskManagerInvalidSignature(taskId, slot, node, signer);
        t.anchored |= uint32(1) << slot;
        emit CommitAnchored(taskId, slot, node, seal);
    }

    /// @inheritdoc ITaskManager
    function reallocate(uint256 taskId) external nonReentrant {
        Task storage t = _task(taskId);
        if (t.status != TaskStatus.Active) revert TaskManagerInvalidStatus(taskId, t.status);
        uint64 reportDeadline = _reportDeadline(t);
        if (block.timestamp <= reportDeadline) revert TaskManagerTooEarly(taskId, reportDeadline);
        if (t.round + 1 >= MAX_ROUNDS) revert TaskManagerRoundsExhausted(taskId, MAX_ROUNDS);
        uint32 seated = _fullMask(t.n) & ~t.vacant;
        if (seated & ~t.anchored == 0) revert TaskManagerNothingToReallocate(taskId);

        uint32 vacated = _vacateSilent(taskId, t, seated, _collateral(t.reward));
        uint8 round = t.round + 1;
        uint40 next = uint40(block.number + DRAW_DELAY);
        t.vacant = vacated;
        t.anchored = 0;
        t.round = round;
        t.status = TaskStatus.Pending;
        t.drawBlock = next;
        emit DrawScheduled(taskId, round, next);
    }

    // ---------------------------------------------------------------- quorum report

    /// @inheritdoc ITaskManager
    function reportResult(uint256 taskId, bytes32 resultHash, uint256 participants, bytes[] calldata signatures)
        external
        nonReentrant
    {
        Task storage t = _task(taskId);
        (uint32 seated, uint256 signers) = _checkReport(taskId, t, participants, signatures.length);
        uint256 share = _finalize(taskId, t, resultHash, participants, signers);
        _settle(
            taskId,
            resultDigest(taskId, resultHash, participants),
            signatures,
            seated,
            uint32(participants),
            _collateral(t.reward),
            share
        );
    }

    // ---------------------------------------------------------------- fault proofs

    /// @inheritdoc ITaskManager
    function proveCommitEquivocation(
        uint256 taskId,
        address worker,
        bytes32 sealA,
        bytes calldata signatureA,
        bytes32 sealB,
        bytes calldata signatureB
    ) external nonReentrant {
        Task storage t = _task(taskId);
        if (sealA == sealB) revert TaskManagerNoConflict(taskId);
        if (_recoverCalldata(commitDigest(taskId, worker, sealA), signatureA) != worker) revert TaskManagerNoConflict(taskId);
        if (_recoverCalldata(commitDigest(taskId, worker, sealB), signatureB) != worker) revert TaskManagerNoConflict(taskId);
        _slashEquivocation(taskId, t, worker, keccak256(abi.encode(taskId, worker, sealA, sealB)));
    }

    /// @inheritdoc ITaskManager
    function proveResultEquivocation(
        uint256 taskId,
        bytes32 resultA,
        uint256 participantsA,
        bytes calldata signatureA,
        bytes32 resultB,
        uint256 participantsB,
        bytes calldata signatureB
    ) external nonReentrant {
        Task storage t = _task(taskId);
        if (resultA == resultB) revert TaskManagerNoConflict(taskId);
        address worker = _recoverCalldata(resultDigest(taskId, resultA, participantsA), signatureA);
        if (worker == address(0) || _recoverCalldata(resultDigest(taskId, resultB, participantsB), signatureB) != worker) {
            revert TaskManagerNoConflict(taskId);
        }
        _slashEquivocation(taskId, t, worker, keccak256(abi.encode(taskId, worker, resultA, resultB)));
    }

    /// @inheritdoc ITaskManager
    function proveWrongResult(uint256 taskId, bytes32 resultHash, uint256 participants, bytes calldata signature)
        external
        nonReentrant
    {
        Task storage t = _task(taskId);
        if (t.status != TaskStatus.Finalized) revert TaskManagerInvalidStatus(taskId, t.status);
        if (resultHash == t.resultHash) revert TaskManagerNoConflict(taskId);
        address worker = _recoverCalldata(resultDigest(taskId, resultHash, participants), signature);
        if (!_isSeated(taskId, t, worker)) revert TaskManagerNotCommitteeMember(taskId, worker);
        uint256 amount = Math.mulDiv(_collateral(t.reward), WRONG_RESULT_SLASH_BPS, TaskMath.BPS);
        _slash(
            taskId,
            worker,
            _nodes[worker].operator,
            REASON_WRONG_RESULT,
            amount,
            keccak256(abi.encode(taskId, worker, resultHash, t.resultHash)),
            msg.sender
        );
    }

    // ---------------------------------------------------------------- payouts and admin

    /// @inheritdoc ITaskManager
    function withdrawRewards() external nonReentrant returns (uint256 amount) {
        amount = rewardsOf[msg.sender];
        if (amount == 0) revert TaskManagerNothingToWithdraw(msg.sender);
        rewardsOf[msg.sender] = 0;
        emit RewardsWithdrawn(msg.sender, amount);
        TOKEN.safeTransfer(msg.sender, amount);
    }

    /// @inheritdoc ITaskManager
    function depositCollateral(uint256 amount) external nonReentrant {
        if (amount == 0 || amount > type(uint128).max) revert TaskManagerInvalidParameter("amount", amount);
        _bonds[msg.sender].held += uint128(amount);
        emit CollateralDeposited(msg.sender, amount);
        STAKING.lock(msg.sender, amount, bytes32(0));
    }

    /// @inheritdoc ITaskManager
    function releaseCollateral() external nonReentrant returns (uint256 amount) {
        Bond storage bond = _bonds[msg.sender];
        amount = bond.held - bond.inUse;
        if (amount == 0) revert TaskManagerNothingToWithdraw(msg.sender);
        bond.held -= uint128(amount);
        emit CollateralReleased(msg.sender, amount);
        STAKING.unlock(msg.sender, amount, bytes32(0));
    }

    /// @inheritdoc ITaskManager
    function withdrawFees() external nonReentrant returns (uint256 amount) {
        amount = accruedFees;
        address to = treasury;
        if (amount == 0) revert TaskManagerNothingToWithdraw(to);
        accruedFees = 0;
        emit FeesWithdrawn(to, amount);
        TOKEN.safeTransfer(to, amount);
    }

    /// @inheritdoc ITaskManager
    function setProtocolFee(uint16 feeBps) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setProtocolFee(feeBps);
    }

    /// @inheritdoc ITaskManager
    function setTreasury(address treasury_) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _setTreasury(treasury_);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc ITaskManager
    function taskCount() external view returns (uint256) {
        return _taskCount;
    }

    /// @inheritdoc ITaskManager
    function getTask(uint256 taskId) external view returns (TaskInfo memory info) {
        Task storage t = _tasks[taskId];
        info.submitter = t.submitter;
        info.status = t.status;
        info.n = t.n;
        info.q = t.q;
        info.round = t.round;
        info.reward = t.reward;
        info.fee = _fee(t);
        info.collateral = t.status == TaskStatus.None ? 0 : _collateral(t.reward);
        info.resources = IXnodeRegistry.Resources(t.cpuMillicores, t.memoryMiB, t.storageGiB, t.gpus);
        info.drawBlock = t.drawBlock;
        info.commitDeadline = t.commitDeadline;
        info.reportDeadline = t.commitDeadline == 0 ? 0 : _reportDeadline(t);
        info.finalDeadline = t.finalDeadline;
        info.commitWindow = t.commitWindow;
        info.revealWindow = t.revealWindow;
        info.seated = _fullMask(t.n) & ~t.vacant;
        info.anchored = t.anchored;
        info.participants = t.participants;
        info.resultHash = t.resultHash;
    }

    /// @inheritdoc ITaskManager
    function committeeOf(uint256 taskId) external view returns (address[] memory nodes) {
        Task storage t = _tasks[taskId];
        nodes = _members(taskId, t.n);
        uint32 vacant = t.vacant;
        for (uint256 i = 0; i < nodes.length; ++i) {
            if (vacant & _bit(i) != 0) nodes[i] = address(0);
        }
    }

    /// @inheritdoc ITaskManager
    function collateralOf(address operator) external view returns (uint256 held, uint256 inUse) {
        Bond storage bond = _bonds[operator];
        return (bond.held, bond.inUse);
    }

    /// @inheritdoc ITaskManager
    function activeTasksOf(address node) external view returns (uint256) {
        return _nodes[node].active;
    }

    /// @inheritdoc ITaskManager
    function parameters() external view returns (Parameters memory) {
        return Parameters({
            collateralBps: COLLATERAL_BPS,
            minCollateral: MIN_COLLATERAL,
            noShowPenaltyBps: NO_SHOW_PENALTY_BPS,
            wrongResultSlashBps: WRONG_RESULT_SLASH_BPS,
            equivocationSlashBps: EQUIVOCATION_SLASH_BPS,
            finalizerFeeShareBps: FINALIZER_FEE_SHARE_BPS,
            maxRounds: MAX_ROUNDS,
            candidateWindow: CANDIDATE_WINDOW,
            maxScan: MAX_SCAN,
            drawDelay: DRAW_DELAY,
            stakeWeightCap: STAKE_WEIGHT_CAP
        });
    }

    /// @inheritdoc ITaskManager
    function collateralFor(uint256 reward) external view returns (uint256) {
        return _collateral(reward);
    }

    /// @inheritdoc ITaskManager
    function commitDigest(uint256 taskId, address worker, bytes32 seal) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(COMMIT_TYPEHASH, taskId, worker, seal)));
    }

    /// @inheritdoc ITaskManager
    function resultDigest(uint256 taskId, bytes32 resultHash, uint256 participants) public view returns (bytes32) {
        return _hashTypedDataV4(keccak256(abi.encode(RESULT_TYPEHASH, taskId, resultHash, participants)));
    }

    /// @inheritdoc ITaskManager
    function token() external view returns (IERC20) {
        return TOKEN;
    }

    /// @inheritdoc ITaskManager
    function staking() external view returns (IStaking) {
        return STAKING;
    }

    /// @inheritdoc ITaskManager
    function registry() external view returns (IXnodeRegistry) {
        return REGISTRY;
    }

    // ---------------------------------------------------------------- internal: draw

    /// @dev Fill every vacant slot from one seeded, weighted draw over a window of fitting candidates.
    function _draw(uint256 taskId, Task storage t, uint256 seed) private {
        uint256 n = t.n;
        uint32 vacant = t.vacant;
        uint8 round = t.round;
        Pool memory pool;
        pool.seed = seed;
        pool.collateral = _collateral(t.reward);
        pool.needed = TaskMath.popcount(vacant);
        // Round 0: every slot is vacant and the committee is empty, so there is nothing to read or exclude.
        address[] memory members = round == 0 ? new address[](n) : _members(taskId, n);
        (pool.list, pool.found, pool.totalWeight) = _collect(t, seed, members, vacant, pool.collateral);

        // The committee words are updated in memory and written once each.
        uint256 ids;
        for (uint256 slot = 0; slot < n; ++slot) {
            if (slot & 7 == 0) ids = round == 0 ? 0 : _committee[taskId][slot >> 3];
            if (vacant & _bit(slot) != 0) {
                (address node, address operator) = _pick(taskId, slot, pool);
                uint256 shift = (slot & 7) * 32;
                ids = (ids & ~(uint256(type(uint32).max) << shift)) | (uint256(_seat(node, operator)) << shift);
                emit TaskAssigned(taskId, uint8(slot), node, round, operator, pool.collateral);
                if (round != 0) emit WorkerReplaced(taskId, uint8(slot), members[slot], node, round);
            }
            if (slot & 7 == 7 || slot + 1 == n) {
                if (vacant & (uint256(0xff) << (slot & ~uint256(7))) != 0) _committee[taskId][slot >> 3] = ids;
            }
        }

        uint40 commitDeadline = uint40(block.timestamp + t.commitWindow);
        t.vacant = 0;
        t.status = TaskStatus.Active;
        t.commitDeadline = commitDeadline;
        emit RoundStarted(taskId, round, commitDeadline, commitDeadline + t.revealWindow);
    }

    /// @dev Weighted pick for `slot` (probability weight / totalWeight), then lock the collateral. A candidate whose
    /// operator cannot lock it any more (several of its nodes were picked) drops out and the pick is repeated.
    function _pick(uint256 taskId, uint256 slot, Pool memory pool)
        private
        returns (address node, address operator)
    {
        while (node == address(0)) {
            if (pool.totalWeight == 0) revert TaskManagerNotEnoughEligibleNodes(taskId, pool.found, pool.needed);
            uint256 r = uint256(keccak256(abi.encode(pool.seed, slot, pool.totalWeight))) % pool.totalWeight;
            uint256 k = 0;
            while (r >= pool.list[k].weight) {
                r -= pool.list[k].weight;
                ++k;
            }
            Candidate memory c = pool.list[k];
            pool.totalWeight -= c.weight;
            pool.list[k].weight = 0;
            if (_reserve(c.operator, pool.collateral, taskId)) {
                (node, operator) = (c.node, c.operator);
            } else {
                --pool.found;
            }
        }
    }

    /// @dev Walk the registry from a seeded offset and keep up to vacancies + candidateWindow nodes that are
    /// Active, fit the task's resources, have a free slot, can lock the collateral and are not seated already.
    /// Weight = spare slots × min(free stake, stakeWeightCap) (+1 so no eligible node has zero weight).
    function _collect(Task storage t, uint256 seed, address[] memory members, uint32 vacant, uint256 collateral)
        private
        view
        returns (Candidate[] memory list, uint256 found, uint256 totalWeight)
    {
        uint256 count = REGISTRY.nodeCount();
        uint256 scan = Math.min(count, MAX_SCAN);
        uint256 window = Math.min(scan, TaskMath.popcount(vacant) + CANDIDATE_WINDOW);
        list = new Candidate[](window);
        if (count == 0) return (list, 0, 0);
        uint256 start = seed % count;
        IXnodeRegistry.Resources memory need =
            IXnodeRegistry.Resources(t.cpuMillicores, t.memoryMiB, t.storageGiB, t.gpus);

        for (uint256 j = 0; j < scan && found < window; ++j) {
            Candidate memory c = _candidateAt((start + j) % count, need, members, vacant, collateral);
            if (c.weight == 0) continue;
            list[found] = c;
            totalWeight += c.weight;
            ++found;
        }
    }

    /// @dev Registry entry `index` as a candidate; weight 0 when it is not eligible.
    function _candidateAt(
        uint256 index,
        IXnodeRegistry.Resources memory need,
        address[] memory members,
        uint32 vacant,
        uint256 collateral
    ) private view returns (Candidate memory c) {
        (address node, address operator, IXnodeRegistry.NodeStatus status, uint32 slots, IXnodeRegistry.Resources memory have) =
            REGISTRY.assignmentInfoAt(index);
        c.node = node;
        c.operator = operator;
        if (status != IXnodeRegistry.NodeStatus.Active || !_fits(have, need)) return c;
        if (vacant != _fullMask(members.length) && _contains(members, vacant, node)) return c;
        c.weight = _weight(node, operator, slots, collateral);
    }

    function _fits(IXnodeRegistry.Resources memory have, IXnodeRegistry.Resources memory need)
        private
        pure
        returns (bool)
    {
        return have.cpuMillicores >= need.cpuMillicores && have.memoryMiB >= need.memoryMiB
            && have.storageGiB >= need.storageGiB && have.gpus >= need.gpus;
    }

    /// @dev Draw weight of an Active, fitting node: 0 if it has no free slot or its operator cannot cover the
    /// collateral (unused collateral held here, topped up from free stake). Otherwise spare slots × the stake its
    /// operator dedicates to tasks (collateral held here, at least one task's collateral, capped). Staking is only
    /// read when the held collateral does not cover the task, so a busy network's draw reads no Staking state.
    function _weight(address node, address operator, uint32 slots, uint256 collateral)
        private
        view
        returns (uint256)
    {
        NodeState storage state = _nodes[node];
        uint256 active = state.active;
        if (active >= slots) return 0;
        // Collateral of this node's running tasks is booked on the operator it had then.
        if (active != 0 && state.operator != operator) return 0;
        Bond memory bond = _bonds[operator];
        uint256 spare = bond.held - bond.inUse;
        if (spare < collateral && STAKING.freeStakeOf(operator) + spare < collateral) return 0;
        return (slots - active) * Math.min(Math.max(bond.held, collateral), STAKE_WEIGHT_CAP);
    }

    /// @dev Book `collateral` on `operator`: from collateral this contract already holds unused, locking only the
    /// shortfall in Staking. False if the operator's free stake cannot cover the shortfall.
    function _reserve(address operator, uint256 collateral, uint256 taskId) private returns (bool) {
        Bond memory bond = _bonds[operator];
        uint256 spare = bond.held - bond.inUse;
        if (spare < collateral) {
            uint256 shortfall = collateral - spare;
            try STAKING.lock(operator, shortfall, _lockRef(taskId)) {
                bond.held += uint128(shortfall);
            } catch {
                return false;
            }
        }
        bond.inUse += uint128(collateral);
        _storeBond(operator, bond);
        return true;
    }

    /// @dev Collateral of a finished / vacated seat goes back to the operator's unused held collateral.
    function _unbook(address operator, uint256 collateral) private {
        _bonds[operator].inUse -= uint128(collateral);
    }

    /// @dev Book a seat on `node` (run by `operator`); returns the node's id for the committee word.
    function _seat(address node, address operator) private returns (uint32) {
        NodeState memory state = _nodes[node];
        if (state.id == 0) {
            state.id = ++_nodeIds;
            _nodeById[state.id] = node;
        }
        state.operator = operator;
        state.active += 1;
        _storeNode(node, state);
        return state.id;
    }

    // ---------------------------------------------------------------- internal: settlement

    /// @dev Status, deadline, participants ⊆ seated, one signature per participant, quorum.
    function _checkReport(uint256 taskId, Task storage t, uint256 participants, uint256 signatureCount)
        private
        view
        returns (uint32 seated, uint256 signers)
    {
        TaskStatus status = t.status;
        if (status != TaskStatus.Active && status != TaskStatus.Pending) {
            revert TaskManagerInvalidStatus(taskId, status);
        }
        if (block.timestamp > t.finalDeadline) revert TaskManagerDeadlinePassed(taskId, t.finalDeadline);
        seated = _fullMask(t.n) & ~t.vacant;
        if (participants == 0 || participants & ~uint256(seated) != 0) {
            revert TaskManagerInvalidParticipants(taskId, participants);
        }
        signers = TaskMath.popcount(participants);
        if (signers != signatureCount) revert TaskManagerSignatureCountMismatch(signers, signatureCount);
        if (signers < t.q) revert TaskManagerQuorumNotMet(taskId, signers, t.q);
    }

    /// @dev Record the result and split the escrow; returns each signer's share.
    function _finalize(uint256 taskId, Task storage t, bytes32 resultHash, uint256 participants, uint256 signers)
        private
        returns (uint256 share)
    {
        uint256 toProtocol;
        uint256 dust;
        (share, toProtocol, dust) = TaskMath.split(t.reward, _fee(t), FINALIZER_FEE_SHARE_BPS, signers);
        t.status = TaskStatus.Finalized;
        t.participants = uint32(participants);
        t.resultHash = resultHash;
        accruedFees += toProtocol;
        emit TaskFinalized(taskId, resultHash, participants, msg.sender, share, dust);
    }

    /// @dev One pass over the seated slots: check each participant's signature, release every seated worker's
    /// collateral, credit the participants' operators. A participant's node is found from its recovered signer:
    /// node ids are unique and never reused, so `_nodes[signer].id == id in the slot` holds exactly when the signer
    /// is the slot's node (a seated slot's id is never 0, an unknown signer's id is). Only non-participants are
    /// looked up by id.
    function _settle(
        uint256 taskId,
        bytes32 digest,
        bytes[] calldata signatures,
        uint32 seated,
        uint32 participants,
        uint256 collateral,
        uint256 share
    ) private {
        uint256 k = 0;
        uint256 ids;
        for (uint256 slot = 0; seated >> slot != 0; ++slot) {
            if (slot & 7 == 0) ids = _committee[taskId][slot >> 3];
            if (seated & _bit(slot) == 0) continue;
            uint32 id = uint32(ids >> ((slot & 7) * 32));
            address node;
            NodeState memory state;
            if (participants & _bit(slot) != 0) {
                node = _recoverCalldata(digest, signatures[k]);
                ++k;
                state = _nodes[node];
                if (state.id != id) revert TaskManagerInvalidSignature(taskId, slot, _nodeById[id], node);
                state.completed += 1;
                rewardsOf[state.operator] += share;
            } else {
                node = _nodeById[id];
                state = _nodes[node];
            }
            state.active -= 1;
            _storeNode(node, state);
            _unbook(state.operator, collateral);
        }
    }

    /// @dev Release the collateral of the `seated` slots without any penalty (claim).
    function _releaseSeated(uint256 taskId, uint256 n, uint32 seated, uint256 collateral) private {
        if (seated == 0) return;
        address[] memory members = _members(taskId, n);
        for (uint256 slot = 0; slot < n; ++slot) {
            if (seated & _bit(slot) == 0) continue;
            NodeState storage state = _nodes[members[slot]];
            state.active -= 1;
            _unbook(state.operator, collateral);
        }
    }

    /// @dev Penalise and release every seated slot that anchored no commit this round; returns those slots.
    function _vacateSilent(uint256 taskId, Task storage t, uint32 seated, uint256 collateral)
        private
        returns (uint32 silent)
    {
        silent = seated & ~t.anchored;
        if (silent == 0) return 0;
        address[] memory members = _members(taskId, t.n);
        uint256 penalty = Math.mulDiv(collateral, NO_SHOW_PENALTY_BPS, TaskMath.BPS);
        uint8 round = t.round;
        for (uint256 slot = 0; slot < members.length; ++slot) {
            if (silent & _bit(slot) == 0) continue;
            _vacate(taskId, uint8(slot), members[slot], round, collateral, penalty);
        }
    }

    function _vacate(uint256 taskId, uint8 slot, address node, uint8 round, uint256 collateral, uint256 penalty)
        private
    {
        NodeState storage state = _nodes[node];
        address operator = state.operator;
        state.active -= 1;
        emit SlotVacated(taskId, slot, node, round);
        _unbook(operator, collateral);
        if (penalty != 0) {
            uint256 taken = STAKING.slash(operator, penalty, REASON_NO_SHOW, _lockRef(taskId), address(0));
            emit WorkerSlashed(taskId, node, REASON_NO_SHOW, taken, address(0));
        }
    }

    function _slashEquivocation(uint256 taskId, Task storage t, address worker, bytes32 evidence) private {
        address operator = REGISTRY.operatorOf(worker);
        if (operator == address(0)) revert TaskManagerUnknownNode(worker);
        uint256 amount = Math.mulDiv(_collateral(t.reward), EQUIVOCATION_SLASH_BPS, TaskMath.BPS);
        _slash(taskId, worker, operator, REASON_EQUIVOCATION, amount, evidence, msg.sender);
    }

    function _slash(
        uint256 taskId,
        address node,
        address operator,
        uint8 reason,
        uint256 amount,
        bytes32 evidence,
        address beneficiary
    ) private {
        uint8 flags = _slashed[taskId][node];
        uint8 bit = uint8(1) << reason;
        if (flags & bit != 0) revert TaskManagerAlreadySlashed(taskId, node, reason);
        _slashed[taskId][node] = flags | bit;
        uint256 taken = amount == 0 ? 0 : STAKING.slash(operator, amount, reason, evidence, beneficiary);
        emit WorkerSlashed(taskId, node, reason, taken, beneficiary);
    }

    // ---------------------------------------------------------------- internal: helpers

    /// @dev `_nodes[node] = state` as one SSTORE (Solidity writes a memory struct member by member, each a
    /// read-modify-write of the same slot). Layout as Solidity packs NodeState: operator, id, active, completed
    /// from the low bits.
    function _storeNode(address node, NodeState memory state) private {
        NodeState storage slot = _nodes[node];
        uint256 word = uint256(uint160(state.operator)) | (uint256(state.id) << 160) | (uint256(state.active) << 192)
            | (uint256(state.completed) << 224);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            sstore(slot.slot, word)
        }
    }

    /// @dev `_bonds[operator] = bond` as one SSTORE (held in the low 128 bits, inUse in the high).
    function _storeBond(address operator, Bond memory bond) private {
        Bond storage slot = _bonds[operator];
        uint256 word = uint256(bond.held) | (uint256(bond.inUse) << 128);
        // solhint-disable-next-line no-inline-assembly
        assembly ("memory-safe") {
            sstore(slot.slot, word)
        }
    }

    function _task(uint256 taskId) private view returns (Task storage t) {
        t = _tasks[taskId];
        if (t.status == TaskStatus.None) revert TaskManagerUnknownTask(taskId);
    }

    /// @dev Node in each slot (the last occupant for a vacant slot, zero if never filled).
    function _members(uint256 taskId, uint256 n) private view returns (address[] memory members) {
        members = new address[](n);
        uint256 ids;
        for (uint256 slot = 0; slot < n; ++slot) {
            if (slot & 7 == 0) ids = _committee[taskId][slot >> 3];
            uint32 id = uint32(ids >> ((slot & 7) * 32));
            if (id != 0) members[slot] = _nodeById[id];
        }
    }

    function _member(uint256 taskId, uint256 slot) private view returns (address) {
        uint32 id = uint32(_committee[taskId][slot >> 3] >> ((slot & 7) * 32));
        return _nodeById[id];
    }

    function _isSeated(uint256 taskId, Task storage t, address node) private view returns (bool) {
        if (node == address(0)) return false;
        uint32 seated = _fullMask(t.n) & ~t.vacant;
        address[] memory members = _members(taskId, t.n);
        for (uint256 slot = 0; slot < members.length; ++slot) {
            if (members[slot] == node && seated & _bit(slot) != 0) return true;
        }
        return false;
    }

    /// @dev Whether `node` occupies a non-vacant slot.
    function _contains(address[] memory members, uint32 vacant, address node) private pure returns (bool) {
        for (uint256 slot = 0; slot < members.length; ++slot) {
            if (members[slot] == node && vacant & _bit(slot) == 0) return true;
        }
        return false;
    }

    function _reportDeadline(Task storage t) private view returns (uint64) {
        return uint64(t.commitDeadline) + t.revealWindow;
    }

    function _fee(Task storage t) private view returns (uint256) {
        return TaskMath.fee(t.reward, t.feeBps);
    }

    function _collateral(uint256 reward) private view returns (uint256) {
        return TaskMath.collateral(reward, COLLATERAL_BPS, MIN_COLLATERAL);
    }

    function _bit(uint256 slot) private pure returns (uint32) {
        return uint32(uint256(1) << slot);
    }

    function _fullMask(uint256 n) private pure returns (uint32) {
        return uint32((uint256(1) << n) - 1);
    }

    function _lockRef(uint256 taskId) private pure returns (bytes32) {
        return bytes32(taskId);
    }

    function _recoverCalldata(bytes32 digest, bytes calldata signature) private pure returns (address) {
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(digest, signature);
        return err == ECDSA.RecoverError.NoError ? recovered : address(0);
    }

    function _checkSpec(TaskSpec calldata spec) private view {
        if (spec.n == 0 || spec.n > MAX_COMMITTEE) revert TaskManagerInvalidSpec("n", spec.n);
        if (spec.q == 0 || spec.q > spec.n) revert TaskManagerInvalidSpec("q", spec.q);
        if (spec.reward == 0) revert TaskManagerInvalidSpec("reward", 0);
        if (spec.commitWindow == 0) revert TaskManagerInvalidSpec("commitWindow", 0);
        if (spec.revealWindow == 0) revert TaskManagerInvalidSpec("revealWindow", 0);
        if (spec.resources.cpuMillicores == 0 || spec.resources.memoryMiB == 0) {
            revert TaskManagerInvalidSpec("resources", 0);
        }
        // The first round must be able to finish before the final deadline.
        uint256 earliestEnd = block.timestamp + uint256(spec.commitWindow) + spec.revealWindow;
        if (spec.finalDeadline < earliestEnd) revert TaskManagerInvalidSpec("finalDeadline", spec.finalDeadline);
    }

    function _checkParameters(Parameters memory p) private pure {
        if (p.maxRounds == 0 || p.maxRounds > 16) revert TaskManagerInvalidParameter("maxRounds", p.maxRounds);
        if (p.candidateWindow == 0) revert TaskManagerInvalidParameter("candidateWindow", 0);
        if (p.maxScan < p.candidateWindow) revert TaskManagerInvalidParameter("maxScan", p.maxScan);
        if (p.drawDelay == 0) revert TaskManagerInvalidParameter("drawDelay", 0);
        if (p.finalizerFeeShareBps > TaskMath.BPS) {
            revert TaskManagerInvalidParameter("finalizerFeeShareBps", p.finalizerFeeShareBps);
        }
    }

    function _setProtocolFee(uint16 feeBps) private {
        if (feeBps > MAX_PROTOCOL_FEE_BPS) revert TaskManagerInvalidParameter("protocolFeeBps", feeBps);
        protocolFeeBps = feeBps;
        emit ProtocolFeeSet(feeBps);
    }

    function _setTreasury(address treasury_) private {
        if (treasury_ == address(0)) revert TaskManagerZeroAddress();
        treasury = treasury_;
        emit TreasurySet(treasury_);
    }
}
