// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsortiumBound} from "./base/ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {Sha256Merkle} from "./libraries/Sha256Merkle.sol";
import {IConsortiumNodes} from "./interfaces/IConsortiumNodes.sol";

/// @title Anchors of plant-floor data windows: one Merkle root per node per window.
/// @notice A node is a node identity registered in Consortium (its libp2p peer id): there is ONE
/// chain of windows per node identity, whichever of its organisation's signing accounts sends
/// the anchors, so no organisation can anchor two histories for the same span by using two
/// accounts. An account anchors for one node for good: it is bound on its first anchor to its
/// organisation's only registered node, or explicitly with `bindNode` when the organisation has
/// several; an organisation without a registered node cannot anchor. Views taking an account
/// answer for the node it anchors for; verifiers that expect data from a given node compare
/// `nodeOf(account)` (lib/verify-reading.ts `expectedNode`).
///
/// The node (through its signing account) anchors, per window, the
/// root of the Merkle tree over all readings of that window (all its streams), so chain load does
/// not grow with reading volume. The readings stay off chain; anyone holding a reading and its
/// proof checks it against the root here (`verifyReading`), with the tree defined in
/// lib/merkle.ts and `Sha256Merkle`.
///
/// Each node's anchors form a chain: sequence numbers start at 1 and rise by exactly 1, each
/// anchor names its predecessor's root, windows never overlap, and nothing anchored can be
/// changed. A skipped sequence, a second root for an anchored sequence or a history that does not
/// extend the anchored one is refused, so the chain has no holes and no rewrites; time gaps
/// between windows (a node offline) stay visible as fromTimeMs > the previous toTimeMs.
///
/// Times: a window covers [fromTimeMs, toTimeMs) in Unix milliseconds (windows are about a second
/// long, readings carry millisecond source times). `anchoredAt` is the block timestamp in Unix
/// seconds, which lets a verifier tell a window anchored much later than it closed.
contract DataAnchors is ConsortiumBound {
    /// @dev Two storage slots: the root, then everything else packed.
    struct Anchor {
        bytes32 root; // Merkle root of the window's readings
        uint64 fromTimeMs; // window start, inclusive, Unix ms
        uint64 toTimeMs; // window end, exclusive, Unix ms
        uint64 anchoredAt; // block timestamp, Unix s
        uint32 leafCount; // readings in the window; proofs are checked against it
        uint32 orgId; // the node's organisation when it anchored
    }

    /// @notice One window to anchor (see `anchor` for the fields).
    struct Window {
        uint64 sequence;
        bytes32 root;
        bytes32 prevRoot;
        uint64 fromTimeMs;
        uint64 toTimeMs;
        uint32 leafCount;
    }

    /// @notice How far a window's end may lie ahead of the block time. Windows must not end in the
    /// future, or a node with a wrong clock would anchor a window that no later one may follow;
    /// this much slack absorbs clock drift between nodes and validators and coarse block times.
    uint64 public constant MAX_CLOCK_SKEW_MS = 300_000;

    /// @dev A node's last sequence and where its last window ended: one slot, read and written
    /// once per anchor, so checking the chain costs no read of the previous anchor's packed slot.
    struct Head {
        uint64 sequence;
        uint64 toTimeMs;
    }

    /// @dev Slots of the first release, which chained windows per account; kept so that an
    /// upgrade leaves every later variable where it was (storage-layout test). Never read.
    mapping(address account => mapping(uint64 sequence => Anchor)) private _anchors;
    mapping(address account => Head) private _heads;

    mapping(uint32 nodeId => mapping(uint64 sequence => Anchor)) private _nodeAnchors;
    mapping(uint32 nodeId => Head) private _nodeHeads;
    mapping(address account => uint32 nodeId) private _nodeOfAccount;

    /// @notice `account` anchors for node identity `nodeId` (of organisation `orgId`) from now on.
    event NodeBound(address indexed account, uint32 indexed nodeId, uint32 indexed orgId);

    /// @param node the anchoring node's signing account
    /// @param orgId its organisation
    /// @param sequence the node's window number (its previous anchor is sequence - 1)
    /// @param prevRoot the root of the node's previous window (zero for sequence 1)
    event WindowAnchored(
        address indexed node,
        uint32 indexed orgId,
        uint64 indexed sequence,
        bytes32 root,
        bytes32 prevRoot,
        uint64 fromTimeMs,
        uint64 toTimeMs,
        uint32 leafCount,
        uint64 anchoredAt
    );

    /// @notice The node lost windows `fromSequence`..`toSequence` from its store before it
    /// anchored them (a damaged store): their readings cannot be proven. The run counts as one
    /// anchor at `toSequence` with leafCount 0; the sequences before it inside the run have none.
    /// @param root the root of window `toSequence` (its successor names it as prevRoot)
    /// @param fromTimeMs where the node's previous window ended
    /// @param toTimeMs where its next window starts
    event WindowsLost(
        address indexed node,
        uint32 indexed orgId,
        uint64 indexed fromSequence,
        uint64 toSequence,
        bytes32 root,
        bytes32 prevRoot,
        uint64 fromTimeMs,
        uint64 toTimeMs,
        uint64 anchoredAt
    );

    /// @param anchoredRoot the root already anchored for this sequence (compare it to resume)
    error AlreadyAnchored(address node, uint64 sequence, bytes32 anchoredRoot);
    /// @param expected the only sequence the node may anchor next (last anchored + 1)
    error UnexpectedSequence(address node, uint64 expected, uint64 sequence);
    /// @param expected the root of the node's previous anchor (zero before its first)
    error PreviousRootMismatch(address node, uint64 sequence, bytes32 expected, bytes32 prevRoot);
    error ZeroRoot(address node, uint64 sequence);
    error NoLeaves(address node, uint64 sequence);
    /// @dev toTimeMs must be after fromTimeMs.
    error InvalidTimeRange(uint64 fromTimeMs, uint64 toTimeMs);
    /// @param previousToTimeMs where the node's previous window ended; this one may not start before
    error WindowOverlapsPrevious(address node, uint64 sequence, uint64 fromTimeMs, uint64 previousToTimeMs);
    /// @param latestAllowedMs block time plus MAX_CLOCK_SKEW_MS
    error WindowEndsInFuture(uint64 toTimeMs, uint256 latestAllowedMs);
    error EmptyBatch();
    error AnchorNotFound(address node, uint64 sequence);
    /// @param nodeCount the organisation's registered nodes: 0 (it cannot anchor) or several (bind one)
    error NoAnchoringNode(address account, uint32 orgId, uint256 nodeCount);
    /// @param nodeId a node that is not a registered node of the caller's organisation
    error NotOwnNode(address account, uint32 orgId, uint32 nodeId);
    /// @param boundNodeId the node the account anchors for already
    error AlreadyBound(address account, uint32 boundNodeId);

    /// @notice Sets the Consortium whose active members may anchor (called once, via the proxy).
    function initialize(IConsortium consortium_) external initializer {
        __ConsortiumBound_init(consortium_);
    }

    /// @notice Anchors the caller's next data window. The caller is the node: a signing account
    /// of an active organisation.
    /// @param sequence the caller's window number: exactly its last anchored sequence + 1
    /// (1 for its first window); ask `lastSequence` after a restart
    /// @param root the Merkle root over the window's readings (lib/merkle.ts), non-zero
    /// @param prevRoot the root of the caller's window `sequence - 1` (zero when sequence is 1),
    /// so the node states which history it extends and a divergent local history is refused
    /// @param fromTimeMs window start (inclusive), Unix ms; not before the previous window's end
    /// @param toTimeMs window end (exclusive), Unix ms; after fromTimeMs, not in the future
    /// @param leafCount number of readings (leaves) in the window, at least 1
    function anchor(
        uint64 sequence,
        bytes32 root,
        bytes32 prevRoot,
        uint64 fromTimeMs,
        uint64 toTimeMs,
        uint32 leafCount
    ) external {
        (uint32 orgId, ) = _callerOrg();
        uint32 nodeId = _anchoringNode(orgId);
        Head memory head = _nodeHeads[nodeId];
        _record(orgId, nodeId, head, _lastRoot(nodeId, head), Window(sequence, root, prevRoot, fromTimeMs, toTimeMs, leafCount));
        _nodeHeads[nodeId] = Head(sequence, toTimeMs);
    }

    /// @notice Anchors several consecutive windows of the caller in one transaction, e.g. to catch
    /// up after a chain outage. Each window is checked as by `anchor`, against the one before it;
    /// any failure reverts the whole batch.
    /// @param windows consecutive windows, in sequence order
    function anchorBatch(Window[] calldata windows) external {
        if (windows.length == 0) revert EmptyBatch();
        (uint32 orgId, ) = _callerOrg();
        uint32 nodeId = _anchoringNode(orgId);
        Head memory head = _nodeHeads[nodeId];
        bytes32 lastRoot = _lastRoot(nodeId, head);
        for (uint256 i; i < windows.length; ++i) {
            Window memory w = windows[i];
            _record(orgId, nodeId, head, lastRoot, w);
            (head.sequence, head.toTimeMs, lastRoot) = (w.sequence, w.toTimeMs, w.root);
        }
        _nodeHeads[nodeId] = head;
    }

    /// @notice Records, in place of anchors, that the caller's next windows `fromSequence`..
    /// `toSequence` were lost from its store before they were anchored (a damaged store and its
    /// repair), so its chain goes on past them and every verifier sees the gap: one anchor at
    /// `toSequence` with leafCount 0 (no reading proves against it) covering the run's time, and
    /// a WindowsLost event. The run is checked as one window (`anchor`), leaf count aside.
    /// @param root the root of window `toSequence`, as the node's next window names it
    /// @param prevRoot the root of the caller's last anchor
    /// @param fromTimeMs the end of the caller's last anchor
    /// @param toTimeMs the start of the caller's next window
    function recordLostWindows(
        uint64 fromSequence,
        uint64 toSequence,
        bytes32 root,
        bytes32 prevRoot,
        uint64 fromTimeMs,
        uint64 toTimeMs
    ) external {
        if (toSequence < fromSequence) revert EmptyBatch();
        (uint32 orgId, ) = _callerOrg();
        uint32 nodeId = _anchoringNode(orgId);
        Head memory head = _nodeHeads[nodeId];
        _check(nodeId, head, _lastRoot(nodeId, head), Window(fromSequence, root, prevRoot, fromTimeMs, toTimeMs, 0), true);
        uint64 anchoredAt = uint64(block.timestamp);
        _nodeAnchors[nodeId][toSequence] = Anchor(root, fromTimeMs, toTimeMs, anchoredAt, 0, orgId);
        _nodeHeads[nodeId] = Head(toSequence, toTimeMs);
        emit WindowsLost(msg.sender, orgId, fromSequence, toSequence, root, prevRoot, fromTimeMs, toTimeMs, anchoredAt);
    }

    /// @notice Binds the caller's account to `nodeId`, a registered node of its organisation, for
    /// good: needed before the first anchor when the organisation has several nodes.
    function bindNode(uint32 nodeId) external {
        (uint32 orgId, ) = _callerOrg();
        uint32 bound = _nodeOfAccount[msg.sender];
        if (bound != 0) revert AlreadyBound(msg.sender, bound);
        _requireOwnNode(orgId, nodeId);
        _bind(orgId, nodeId);
    }

    /// @notice The node identity `account` anchors for: its bound node, else its organisation's
    /// only registered node (which its first anchor binds); 0 when none.
    function nodeOf(address account) public view returns (uint32 nodeId) {
        nodeId = _nodeOfAccount[account];
        if (nodeId != 0) return nodeId;
        uint32 orgId = consortium().orgOf(account);
        if (orgId == 0) return 0;
        uint32[] memory ids = _registeredNodes(orgId);
        return ids.length == 1 ? ids[0] : 0;
    }

    /// @notice The anchor of node identity `nodeId`'s window `sequence`; reverts AnchorNotFound
    /// (naming no account) when there is none.
    function getNodeAnchor(uint32 nodeId, uint64 sequence) external view returns (Anchor memory anchor_) {
        anchor_ = _nodeAnchors[nodeId][sequence];
        if (anchor_.root == bytes32(0)) revert AnchorNotFound(address(0), sequence);
    }

    /// @notice The last sequence of the node `node` (an account) anchors for; 0 before its first
    /// anchor. A node resumes from here.
    function lastSequence(address node) external view returns (uint64) {
        return _nodeHeads[nodeOf(node)].sequence;
    }

    /// @notice The last anchor of `node` with its sequence; sequence 0 and an empty anchor before
    /// its first.
    function latestAnchor(address node) external view returns (uint64 sequence, Anchor memory latest) {
        uint32 nodeId = nodeOf(node);
        sequence = _nodeHeads[nodeId].sequence;
        latest = _nodeAnchors[nodeId][sequence];
    }

    /// @notice The anchor of `node`'s window `sequence`; reverts AnchorNotFound when there is none.
    /// Its predecessor (the root it extends) is `getAnchor(node, sequence - 1)`.
    function getAnchor(address node, uint64 sequence) external view returns (Anchor memory anchor_) {
        anchor_ = _nodeAnchors[nodeOf(node)][sequence];
        if (anchor_.root == bytes32(0)) revert AnchorNotFound(node, sequence);
    }

    /// @notice Checks one reading against an anchored window: true when `proof` shows `leafHash` at
    /// `index` in the tree whose root `node` anchored as `sequence`. False for an unknown anchor or
    /// a malformed proof (never reverts). Anchors keep proving after their organisation leaves.
    /// @param leafHash sha256(0x00 || the reading's canonical bytes), see `leafHashOf`
    /// @param proof sibling hashes, bottom-up (lib/merkle.ts `MerkleTree.proof`)
    /// @param index the reading's position in the window
    function verifyReading(
        address node,
        uint64 sequence,
        bytes32 leafHash,
        bytes32[] calldata proof,
        uint256 index
    ) external view returns (bool) {
        Anchor storage a = _nodeAnchors[nodeOf(node)][sequence];
        return Sha256Merkle.verify(proof, a.root, leafHash, index, a.leafCount);
    }

    /// @notice Checks several readings of one anchored window with one multi-proof (also a range
    /// proof: consecutive indices). False for an unknown anchor or malformed input (never reverts).
    /// @param leafHashes the readings' leaf hashes, in the order of `indices`
    /// @param indices their positions in the window, strictly increasing
    /// @param proof lib/merkle.ts `multiProof`/`rangeProof` siblings
    function verifyReadings(
        address node,
        uint64 sequence,
        bytes32[] memory leafHashes,
        uint256[] memory indices,
        bytes32[] memory proof
    ) external view returns (bool) {
        Anchor storage a = _nodeAnchors[nodeOf(node)][sequence];
        return Sha256Merkle.verifyMulti(proof, a.root, indices, leafHashes, a.leafCount);
    }

    /// @notice sha256(0x00 || data): the leaf hash of a reading's canonical bytes, as lib/merkle.ts
    /// `leafHash` computes it.
    function leafHashOf(bytes calldata data) external pure returns (bytes32) {
        return Sha256Merkle.leafHash(data);
    }

    /// @dev The root of the node's last anchor; zero before its first.
    function _lastRoot(uint32 nodeId, Head memory head) private view returns (bytes32) {
        return head.sequence == 0 ? bytes32(0) : _nodeAnchors[nodeId][head.sequence].root;
    }

    /// @dev The node the caller anchors for, binding it on first use. A binding is checked once
    /// (a node id never changes organisation): an active member's account keeps extending its
    /// node's one chain even after governance removes the node, which verifiers can see.
    function _anchoringNode(uint32 orgId) private returns (uint32 nodeId) {
        nodeId = _nodeOfAccount[msg.sender];
        if (nodeId != 0) return nodeId;
        uint32[] memory ids = _registeredNodes(orgId);
        if (ids.length != 1) revert NoAnchoringNode(msg.sender, orgId, ids.length);
        nodeId = ids[0];
        _bind(orgId, nodeId);
    }

    function _bind(uint32 orgId, uint32 nodeId) private {
        _nodeOfAccount[msg.sender] = nodeId;
        emit NodeBound(msg.sender, nodeId, orgId);
    }

    function _requireOwnNode(uint32 orgId, uint32 nodeId) private view {
        IConsortiumNodes.NodeIdentity memory n;
        if (nodeId != 0) n = _nodes().node(nodeId);
        if (n.orgId != orgId || !n.registered) revert NotOwnNode(msg.sender, orgId, nodeId);
    }

    /// @dev The organisation's node ids that are registered now (Consortium keeps removed ones listed).
    function _registeredNodes(uint32 orgId) private view returns (uint32[] memory ids) {
        IConsortiumNodes nodes = _nodes();
        uint32[] memory all = nodes.nodesOf(orgId);
        ids = new uint32[](all.length);
        uint256 n;
        for (uint256 i; i < all.length; ++i) {
            if (nodes.node(all[i]).registered) ids[n++] = all[i];
        }
        // solhint-disable-next-line no-inline-assembly
        assembly {
            mstore(ids, n)
        }
    }

    function _nodes() private view returns (IConsortiumNodes) {
        return IConsortiumNodes(address(consortium()));
    }

    /// @dev Checks `w` against the node's previous anchor (`head`, `lastRoot`) and stores it.
    function _record(uint32 orgId, uint32 nodeId, Head memory head, bytes32 lastRoot, Window memory w) private {
        _check(nodeId, head, lastRoot, w, false);
        uint64 anchoredAt = uint64(block.timestamp);
        _nodeAnchors[nodeId][w.sequence] = Anchor(w.root, w.fromTimeMs, w.toTimeMs, anchoredAt, w.leafCount, orgId);
        emit WindowAnchored(msg.sender, orgId, w.sequence, w.root, w.prevRoot, w.fromTimeMs, w.toTimeMs, w.leafCount, anchoredAt);
    }

    /// @dev Reverts unless `w` may follow the node's previous anchor (`head`, `lastRoot`); a lost
    /// run (`lost`) has no leaves.
    function _check(uint32 nodeId, Head memory head, bytes32 lastRoot, Window memory w, bool lost) private view {
        address node = msg.sender;
        uint64 last = head.sequence;
        uint64 lastToTimeMs = head.toTimeMs;
        if (w.sequence <= last && w.sequence != 0) {
            revert AlreadyAnchored(node, w.sequence, _nodeAnchors[nodeId][w.sequence].root);
        }
        if (w.sequence != last + 1) revert UnexpectedSequence(node, last + 1, w.sequence);
        if (w.prevRoot != lastRoot) revert PreviousRootMismatch(node, w.sequence, lastRoot, w.prevRoot);
        if (w.root == bytes32(0)) revert ZeroRoot(node, w.sequence);
        if (w.leafCount == 0 && !lost) revert NoLeaves(node, w.sequence);
        if (w.toTimeMs <= w.fromTimeMs) revert InvalidTimeRange(w.fromTimeMs, w.toTimeMs);
        if (w.fromTimeMs < lastToTimeMs) revert WindowOverlapsPrevious(node, w.sequence, w.fromTimeMs, lastToTimeMs);
        uint256 latestAllowedMs = block.timestamp * 1000 + MAX_CLOCK_SKEW_MS;
        if (w.toTimeMs > latestAllowedMs) revert WindowEndsInFuture(w.toTimeMs, latestAllowedMs);
    }
}
