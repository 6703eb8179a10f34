// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IConsortium} from "./interfaces/IConsortium.sol";
import {ConsortiumBound} from "./base/ConsortiumBound.sol";
import {IdentifierNamespaces} from "./IdentifierNamespaces.sol";
import {TransientSlot} from "@openzeppelin/contracts/utils/TransientSlot.sol";
import {MulticallUpgradeable} from "@openzeppelin/contracts-upgradeable/utils/MulticallUpgradeable.sol";

/// @title Provenance: the consortium's part and batch registry.
/// @notice An item (SGTIN, SSCC, GIAI) or a batch (LGTIN) is known on chain only by
/// `key = keccak256(canonical identifier)`; the identifier and the full EPCIS event stay off chain.
/// Every state change is a record that carries the CBV 2.0 event hash of its EPCIS event and the
/// acting organisation. An event hash is accepted once per organisation, so writes are idempotent
/// and replays fail; another organisation's record of the same hash (a squatter's, through a state
/// change on its own goods) never blocks the entitled one. Verifiers therefore ask for the record
/// of the organisation the event belongs to (`recordOfEventBy`), never for "the" record of a hash.
/// Nothing is ever deleted: a mistaken record is answered by a corrective record pointing to it.
///
/// Custody and ownership: the custodian holds the item, the owner owns it. `ship` puts an item in
/// transit to one consignee organisation, `receiveShipment` by that organisation moves custody
/// (and ownership when the shipment says so). Ownership changes in no other way: only the owner
/// ships with a transfer, and only owners transform or assemble their goods. While an item is assembled into a parent, its
/// owner and custodian are those of its topmost ancestor (they travel with the product); the
/// views resolve them.
///
/// Item keys and batch keys are separate namespaces (different GS1 identifiers hash apart).
///
/// Lots by quantity (no serials): a batch also holds quantities per holder, like ERC-1155 balances.
/// Its owner registers a quantity (`commissionLot`) in one unit of measure fixed by the first
/// registration; `shipLot` moves a quantity of the caller's own balance into transit to one
/// consignee (pending per lot, sender and consignee); `receiveLot` by that consignee credits what
/// arrived. A receipt below the quantity in transit is a discrepancy: the rest stays in transit,
/// visible to both, until a later receipt or until the sender withdraws it (`cancelLotShipment`,
/// back to its balance). Nothing vanishes or returns to stock without the sender's word.
///
/// Identifier namespaces (IdentifierNamespaces): an organisation creates item and batch keys
/// (commission, transformation outputs, new batches) only under a prefix registered to it. It
/// proves that with `proveKeys` earlier in the same transaction (a multicall): the public head of
/// each identifier with the hash of its private tail; the proofs last for that transaction only
/// (transient storage). Identifiers under no registered prefix follow the consortium's policy
/// (refused by default). Observations are recorded only by parties: see `observe`.
///
/// Indexers: every record first emits `Recorded`, then per-item events carrying the record id.
/// Genealogy edges: `Transformed` (every input to every output of one record), `Assembled` and
/// `Disassembled` (child to parent). Batch membership: `ItemCreated.batchKey`. Events that change
/// no registry state are still recorded (`observe`), so every captured event's hash is on chain.
///
/// One EPCIS document is recorded as one transaction: `multicall` (OpenZeppelin) runs one call
/// per event by delegatecall to this contract, so the caller, the checks and the custom errors are
/// those of the single calls, and the document is recorded whole or not at all.
contract Provenance is ConsortiumBound, MulticallUpgradeable {
    // ---------------------------------------------------------------- types

    enum ItemStatus {
        None, // never registered
        Active, // held by its custodian, free to move, transform or assemble
        InTransit, // shipped, waiting for its consignee to receive it
        Consumed, // input of a transformation; final
        Assembled // part of a parent item; moves with it until disassembled
    }

    enum RecordKind {
        None,
        Commission,
        Ship,
        CancelShipment,
        Receive,
        Transform,
        Assemble,
        Disassemble,
        Inspect,
        Disposition,
        Recall,
        RecallBatch,
        Correction,
        Observation // appended: record kinds are stored and mirrored by position
    }

    /// @dev One storage slot: written once per item at commissioning, which is what batch gas
    /// per item pays for. Parent and disposition live in their own mappings and are written only
    /// when they are set (a batch's items inherit the batch's disposition).
    struct Item {
        uint32 owner;
        uint32 custodian;
        uint32 consignee; // pending receiver while InTransit, else 0
        ItemStatus status;
        bool recalled;
        bool transfersOwnership; // the pending shipment moves ownership to the consignee
        uint40 createdAt;
        uint64 lastRecord;
        uint32 batchIndex; // 0 = no batch; else index into _batchKeyAt
    }

    struct Batch {
        uint32 owner;
        uint32 index;
        bool recalled;
        uint40 createdAt;
        uint64 itemCount;
        bytes32 disposition; // disposition of items registered with it, unless set per item
    }

    struct Record {
        bytes32 eventHash;
        uint32 orgId;
        RecordKind kind;
        uint40 timestamp;
        uint64 corrects; // record id this one corrects, 0 when none
    }

    /// @notice An item as seen from outside: owner and custodian are resolved through assembly.
    struct ItemState {
        bool exists;
        ItemStatus status;
        uint32 ownerOrg;
        uint32 custodianOrg;
        uint32 consigneeOrg;
        bool transfersOwnership;
        bool recalled; // the item or its batch was recalled
        bytes32 parent;
        bytes32 batch;
        bytes32 disposition;
        uint64 createdAt;
        uint64 lastRecord;
    }

    struct BatchState {
        bool exists;
        uint32 ownerOrg;
        bool recalled;
        uint64 createdAt;
        uint64 itemCount;
        bytes32 disposition;
    }

    // ---------------------------------------------------------------- storage (append only)

    mapping(bytes32 key => Item) private _items;
    mapping(bytes32 key => bytes32) private _parent;
    mapping(bytes32 key => bytes32) private _disposition;
    mapping(bytes32 batchKey => Batch) private _batches;
    mapping(uint32 index => bytes32) private _batchKeyAt;
    mapping(uint64 recordId => Record) private _records;
    mapping(bytes32 eventHash => uint64) private _recordOfEvent;
    uint64 private _recordCount;
    uint32 private _batchCount;

    IdentifierNamespaces private _namespaces;
    /// @dev Records of a hash after its first (`_recordOfEvent`), by organisation.
    mapping(bytes32 eventHash => mapping(uint32 orgId => uint64)) private _laterRecordOfEvent;
    /// @dev Quantity of a lot held by each organisation.
    mapping(bytes32 batchKey => mapping(uint32 orgId => uint256)) private _lotBalance;
    /// @dev Quantity of a lot shipped by one organisation to another and not yet received.
    mapping(bytes32 batchKey => mapping(uint32 fromOrg => mapping(uint32 toOrg => uint256))) private _lotInTransit;
    /// @dev Unit of measure of a lot's quantities (UN/ECE Rec 20 code, left-aligned; 0 = a count).
    mapping(bytes32 batchKey => bytes8) private _lotUnit;
    /// @dev A lot's unit is fixed once it holds any quantity.
    mapping(bytes32 batchKey => bool) private _lotUnitSet;

    uint256 private constant AUDITOR_BIT = uint256(1) << uint256(IConsortium.Role.Auditor);
    /// @dev Transient slot of a key's proof: key XOR this (transient storage, one transaction).
    bytes32 private constant PROOF_SLOT_SALT = keccak256("tracemesh.Provenance.keyProof");

    // ---------------------------------------------------------------- events

    /// @notice Emitted first for every record; per-item events of the same record follow.
    event Recorded(
        uint64 indexed recordId,
        uint32 indexed orgId,
        bytes32 indexed eventHash,
        RecordKind kind,
        uint64 corrects
    );
    event BatchCreated(bytes32 indexed batchKey, uint32 indexed ownerOrg, uint64 indexed recordId, bytes32 disposition);
    /// @notice An item came into existence by commissioning or as a transformation output.
    event ItemCreated(bytes32 indexed key, bytes32 indexed batchKey, uint64 indexed recordId, bytes32 disposition);
    event ItemConsumed(bytes32 indexed key, uint64 indexed recordId);
    /// @notice Genealogy edges: every input to every output.
    event Transformed(uint64 indexed recordId, uint32 indexed orgId, bytes32[] inputs, bytes32[] outputs);
    event Shipped(
        bytes32 indexed key,
        uint32 indexed fromOrg,
        uint32 indexed toOrg,
        uint64 recordId,
        bool transfersOwnership
    );
    event ShipmentCancelled(bytes32 indexed key, uint32 indexed fromOrg, uint32 indexed toOrg, uint64 recordId);
    event Received(bytes32 indexed key, uint32 indexed fromOrg, uint32 indexed toOrg, uint64 recordId, uint32 ownerOrg);
    /// @notice Genealogy edge child -> parent.
    event Assembled(bytes32 indexed child, bytes32 indexed parent, uint64 indexed recordId);
    /// @notice Removes the edge child -> parent; the child returns to the caller's custody.
    event Disassembled(bytes32 indexed child, bytes32 indexed parent, uint64 indexed recordId);
    event Inspected(bytes32 indexed key, uint64 indexed recordId, uint32 indexed orgId, bool passed);
    event DispositionChanged(bytes32 indexed key, uint64 indexed recordId, bytes32 disposition);
    event Recalled(bytes32 indexed key, uint64 indexed recordId, uint32 indexed orgId);
    event BatchRecalled(bytes32 indexed batchKey, uint64 indexed recordId, uint32 indexed orgId);
    /// @notice An observation record names item (or batch) `key`; its state is unchanged.
    event Observed(bytes32 indexed key, uint64 indexed recordId);
    /// @notice `quantity` of a lot registered into its owner's balance.
    event LotCommissioned(bytes32 indexed batchKey, uint32 indexed orgId, uint64 indexed recordId, uint256 quantity, bytes8 unit);
    /// @notice `quantity` moved from the sender's balance into transit to the consignee.
    event LotShipped(bytes32 indexed batchKey, uint32 indexed fromOrg, uint32 indexed toOrg, uint64 recordId, uint256 quantity);
    /// @notice `quantity` moved from transit into the consignee's balance.
    event LotReceived(bytes32 indexed batchKey, uint32 indexed fromOrg, uint32 indexed toOrg, uint64 recordId, uint256 quantity);
    /// @notice `quantity` withdrawn from transit back into the sender's balance.
    event LotShipmentCancelled(bytes32 indexed batchKey, uint32 indexed fromOrg, uint32 indexed toOrg, uint64 recordId, uint256 quantity);

    // ---------------------------------------------------------------- errors

    error ZeroEventHash();
    /// @param recordId the record of the caller's organisation that already carries this event hash
    error DuplicateEventHash(bytes32 eventHash, uint64 recordId);
    error ZeroKey();
    error EmptyKeyList();
    error ZeroDisposition();
    error ItemExists(bytes32 key);
    error UnknownItem(bytes32 key);
    /// @param status the item's status, which does not allow the operation
    error InvalidStatus(bytes32 key, ItemStatus status);
    error NotCustodian(bytes32 key, uint32 orgId, uint32 custodianOrg);
    error NotOwner(bytes32 key, uint32 orgId, uint32 ownerOrg);
    error NotConsignee(bytes32 key, uint32 orgId, uint32 consigneeOrg);
    /// @param orgId the consignee: not an active organisation, or the sender itself
    error InvalidConsignee(uint32 orgId);
    /// @param orgId an organisation whose only role is Auditor (or that has no role)
    error NoWriteRights(uint32 orgId);
    error NotCustodianOrCertifier(bytes32 key, uint32 orgId);
    /// @param key an item key or a batch key
    error NotOwnerOrRegulator(bytes32 key, uint32 orgId);
    error AlreadyRecalled(bytes32 key);
    error UnknownBatch(bytes32 batchKey);
    error NotBatchOwner(bytes32 batchKey, uint32 orgId, uint32 ownerOrg);
    error BatchIsRecalled(bytes32 batchKey);
    error UnknownRecord(uint64 recordId);
    error NotRecordAuthor(uint64 recordId, uint32 orgId, uint32 authorOrg);
    /// @param key an item listed as its own child
    error AssemblyCycle(bytes32 key);
    error NotChildOf(bytes32 child, bytes32 parent, bytes32 actualParent);
    error ZeroNamespaces();
    /// @notice The key was not proven (`proveKeys`) in this transaction by the creating organisation.
    error KeyNotProven(bytes32 key, uint32 orgId);
    /// @param key the first key of the proof, whose prefix `holderOrg` holds
    error NamespaceOfOtherOrg(bytes32 key, uint32 orgId, uint32 holderOrg);
    /// @param key the first key of the proof, under no registered prefix (refused by the policy)
    error UnregisteredNamespace(bytes32 key, uint32 orgId);
    /// @notice Only a party may record an event about an item or batch: its owner, custodian or
    /// consignee, or the holder of an unregistered key's proven namespace.
    error NotPartyTo(bytes32 key, uint32 orgId);
    /// @notice An observation naming no item proves no entitlement; refused under Policy.Enforced.
    error ObservationNamesNothing(uint32 orgId);
    /// @param ownerOrg the child's owner
    /// @param parentOwnerOrg the parent's owner, which must be the same
    error OwnerMismatch(bytes32 child, uint32 ownerOrg, uint32 parentOwnerOrg);
    error ZeroQuantity(bytes32 batchKey);
    /// @param unit the unit the event names
    /// @param lotUnit the unit the lot was registered in
    error UnitMismatch(bytes32 batchKey, bytes8 unit, bytes8 lotUnit);
    /// @param available the caller's balance (shipping) or the quantity in transit (receiving, cancelling)
    error InsufficientQuantity(bytes32 batchKey, uint32 orgId, uint256 quantity, uint256 available);

    // ---------------------------------------------------------------- setup

    /// @notice Binds the registry to the consortium whose membership decides who may write, and to
    /// the registry of identifier namespaces that decides who may create which keys.
    function initialize(IConsortium consortium_, IdentifierNamespaces namespaces_) external initializer {
        __ConsortiumBound_init(consortium_);
        if (address(namespaces_) == address(0)) revert ZeroNamespaces();
        _namespaces = namespaces_;
    }

    // ---------------------------------------------------------------- namespace proofs

    /// @notice Proves, for the rest of this transaction, that the caller's organisation may create
    /// the keys keccak256(head ‖ tailHashes[i]): `head` carries a prefix registered to it (or, under
    /// an open policy, one nobody holds). Call it in the same multicall before the creating call.
    /// @param head the public head of the canonical identifiers (lib/identifiers.ts keyProofOfCanonical)
    /// @param prefixLength the prefix's length in `head` if known (a hint; 0 searches)
    /// @param tailHashes keccak256 of each identifier's private tail
    function proveKeys(bytes calldata head, uint8 prefixLength, bytes32[] calldata tailHashes) external {
        (uint32 org, ) = _writerOrg();
        if (tailHashes.length == 0) revert EmptyKeyList();
        (uint32 holder, , IdentifierNamespaces.Policy policy) = _namespaces.holderOf(head, prefixLength);
        if (holder != org) {
            bytes32 first = keccak256(abi.encodePacked(head, tailHashes[0]));
            if (holder != 0) revert NamespaceOfOtherOrg(first, org, holder);
            if (policy == IdentifierNamespaces.Policy.Enforced) revert UnregisteredNamespace(first, org);
        }
        for (uint256 i; i < tailHashes.length; ++i) {
            TransientSlot.tstore(_proofSlot(keccak256(abi.encodePacked(head, tailHashes[i]))), uint256(org));
        }
    }

    /// @notice The namespace registry this registry consults.
    function namespaces() external view returns (IdentifierNamespaces) {
        return _namespaces;
    }

    // ---------------------------------------------------------------- commissioning

    /// @notice Registers one new item held and owned by the calling Supplier or Manufacturer.
    /// @param key keccak256 of the item's canonical identifier
    /// @param disposition keccak256 of the CBV 2.0 disposition URI (e.g. ...disp-active)
    /// @param eventHash CBV 2.0 event hash of the commissioning ObjectEvent
    /// @return recordId the new record
    function commission(bytes32 key, bytes32 disposition, bytes32 eventHash) external returns (uint64 recordId) {
        uint32 org = _callerOrgWithEither(IConsortium.Role.Supplier, IConsortium.Role.Manufacturer);
        if (disposition == bytes32(0)) revert ZeroDisposition();
        recordId = _newRecord(RecordKind.Commission, org, eventHash, 0);
        _requireProven(key, org);
        _create(key, org, recordId, 0, bytes32(0), disposition, true);
    }

    /// @notice Registers many new items in one record, as members of batch `batchKey` (an LGTIN),
    /// which is created on first use and owned by the caller; later calls by its owner add items.
    /// `batchKey` 0 registers the items without a batch.
    /// @param keys the new items' keys; none may exist yet
    /// @param disposition keccak256 of the CBV 2.0 disposition URI, for every item
    /// @param eventHash CBV 2.0 event hash of the commissioning ObjectEvent
    /// @return recordId the new record
    function commissionBatch(
        bytes32 batchKey,
        bytes32[] calldata keys,
        bytes32 disposition,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        uint32 org = _callerOrgWithEither(IConsortium.Role.Supplier, IConsortium.Role.Manufacturer);
        if (keys.length == 0) revert EmptyKeyList();
        if (disposition == bytes32(0)) revert ZeroDisposition();
        recordId = _newRecord(RecordKind.Commission, org, eventHash, 0);
        _requireAllProven(keys, org);
        (uint32 batchIndex, bool inherit) = _useBatch(batchKey, org, recordId, disposition, keys.length);
        for (uint256 i; i < keys.length; ++i) {
            _create(keys[i], org, recordId, batchIndex, batchKey, disposition, !inherit);
        }
    }

    // ---------------------------------------------------------------- custody

    /// @notice Ships items held by the caller to another active member organisation. They are in
    /// transit until that organisation receives them (or the caller cancels the shipment).
    /// @param toOrg the consignee organisation
    /// @param transferOwnership ownership moves to the consignee on receipt; the caller must own
    /// every item
    /// @param eventHash CBV 2.0 event hash of the shipping ObjectEvent
    /// @return recordId the new record
    function ship(
        bytes32[] calldata keys,
        uint32 toOrg,
        bool transferOwnership,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        (uint32 org, ) = _writerOrg();
        if (keys.length == 0) revert EmptyKeyList();
        if (toOrg == org || !consortium().isActiveOrg(toOrg)) revert InvalidConsignee(toOrg);
        recordId = _newRecord(RecordKind.Ship, org, eventHash, 0);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 key = keys[i];
            Item storage it = _held(key, org);
            if (transferOwnership && it.owner != org) revert NotOwner(key, org, it.owner);
            it.status = ItemStatus.InTransit;
            it.consignee = toOrg;
            it.transfersOwnership = transferOwnership;
            it.lastRecord = recordId;
            emit Shipped(key, org, toOrg, recordId, transferOwnership);
        }
    }

    /// @notice Withdraws a pending shipment made by the caller, e.g. when the consignee refused
    /// the goods or left the consortium; the items are active in the caller's custody again.
    /// @param eventHash CBV 2.0 event hash of the EPCIS event that voids the shipment
    /// @return recordId the new record
    function cancelShipment(bytes32[] calldata keys, bytes32 eventHash) external returns (uint64 recordId) {
        (uint32 org, ) = _writerOrg();
        if (keys.length == 0) revert EmptyKeyList();
        recordId = _newRecord(RecordKind.CancelShipment, org, eventHash, 0);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 key = keys[i];
            Item storage it = _existing(key);
            if (it.status != ItemStatus.InTransit) revert InvalidStatus(key, it.status);
            if (it.custodian != org) revert NotCustodian(key, org, it.custodian);
            uint32 consignee = it.consignee;
            it.status = ItemStatus.Active;
            it.consignee = 0;
            it.transfersOwnership = false;
            it.lastRecord = recordId;
            emit ShipmentCancelled(key, org, consignee, recordId);
        }
    }

    /// @notice Receives items shipped to the caller: custody, and ownership when the shipment
    /// transfers it, move to the caller.
    /// @param eventHash CBV 2.0 event hash of the receiving ObjectEvent
    /// @return recordId the new record
    function receiveShipment(bytes32[] calldata keys, bytes32 eventHash) external returns (uint64 recordId) {
        (uint32 org, ) = _writerOrg();
        if (keys.length == 0) revert EmptyKeyList();
        recordId = _newRecord(RecordKind.Receive, org, eventHash, 0);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 key = keys[i];
            Item storage it = _existing(key);
            if (it.status != ItemStatus.InTransit) revert InvalidStatus(key, it.status);
            if (it.consignee != org) revert NotConsignee(key, org, it.consignee);
            uint32 from = it.custodian;
            if (it.transfersOwnership) it.owner = org;
            it.custodian = org;
            it.status = ItemStatus.Active;
            it.consignee = 0;
            it.transfersOwnership = false;
            it.lastRecord = recordId;
            emit Received(key, from, org, recordId, it.owner);
        }
    }

    // ---------------------------------------------------------------- lots by quantity

    /// @notice Registers `quantity` of lot `batchKey` into the balance of the calling Supplier or
    /// Manufacturer. The lot is created on first use and owned by the caller; later calls by its
    /// owner add quantity in the same unit.
    /// @param unit UN/ECE Rec 20 unit code, left-aligned (0 for a count); fixed by the first registration
    /// @param disposition keccak256 of the CBV 2.0 disposition URI, the lot's on creation
    /// @param eventHash CBV 2.0 event hash of the commissioning ObjectEvent
    /// @return recordId the new record
    function commissionLot(
        bytes32 batchKey,
        uint256 quantity,
        bytes8 unit,
        bytes32 disposition,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        uint32 org = _callerOrgWithEither(IConsortium.Role.Supplier, IConsortium.Role.Manufacturer);
        if (batchKey == bytes32(0)) revert ZeroKey();
        if (disposition == bytes32(0)) revert ZeroDisposition();
        if (quantity == 0) revert ZeroQuantity(batchKey);
        recordId = _newRecord(RecordKind.Commission, org, eventHash, 0);
        _useBatch(batchKey, org, recordId, disposition, 0);
        if (!_lotUnitSet[batchKey]) {
            _lotUnitSet[batchKey] = true;
            _lotUnit[batchKey] = unit;
        } else _requireUnit(batchKey, unit);
        _lotBalance[batchKey][org] += quantity;
        emit LotCommissioned(batchKey, org, recordId, quantity, unit);
    }

    /// @notice Ships `quantity` of the caller's own balance of a lot to another active member: it
    /// is in transit until that member receives it or the caller withdraws it.
    /// @param eventHash CBV 2.0 event hash of the shipping ObjectEvent
    /// @return recordId the new record
    function shipLot(
        bytes32 batchKey,
        uint256 quantity,
        bytes8 unit,
        uint32 toOrg,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        (uint32 org, ) = _writerOrg();
        if (toOrg == org || !consortium().isActiveOrg(toOrg)) revert InvalidConsignee(toOrg);
        _requireQuantity(batchKey, quantity, unit);
        uint256 held = _lotBalance[batchKey][org];
        if (quantity > held) revert InsufficientQuantity(batchKey, org, quantity, held);
        recordId = _newRecord(RecordKind.Ship, org, eventHash, 0);
        _lotBalance[batchKey][org] = held - quantity;
        _lotInTransit[batchKey][org][toOrg] += quantity;
        emit LotShipped(batchKey, org, toOrg, recordId, quantity);
    }

    /// @notice Receives `quantity` of a lot in transit from `fromOrg` to the caller into the
    /// caller's balance. Less than is in transit records a discrepancy: the rest stays in transit.
    /// @param eventHash CBV 2.0 event hash of the receiving ObjectEvent
    /// @return recordId the new record
    function receiveLot(
        bytes32 batchKey,
        uint32 fromOrg,
        uint256 quantity,
        bytes8 unit,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        uint32 org;
        (org, recordId) = _settleInTransit(RecordKind.Receive, batchKey, fromOrg, quantity, unit, eventHash);
        emit LotReceived(batchKey, fromOrg, org, recordId, quantity);
    }

    /// @notice Withdraws `quantity` of the caller's shipment of a lot to `toOrg` not yet received
    /// (refused goods, or the rest of a short receipt) back into the caller's balance.
    /// @param eventHash CBV 2.0 event hash of the EPCIS event that voids the shipment
    /// @return recordId the new record
    function cancelLotShipment(
        bytes32 batchKey,
        uint32 toOrg,
        uint256 quantity,
        bytes8 unit,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        uint32 org;
        (org, recordId) = _settleInTransit(RecordKind.CancelShipment, batchKey, toOrg, quantity, unit, eventHash);
        emit LotShipmentCancelled(batchKey, org, toOrg, recordId, quantity);
    }

    // ---------------------------------------------------------------- genealogy

    /// @notice Transformation: consumes active inputs held and owned by the caller and creates new outputs
    /// held and owned by the caller, optionally as members of batch `outputBatch` (created on
    /// first use, else it must be the caller's). Outputs must be new keys, so the graph stays
    /// acyclic and no input can be consumed twice. Parts assembled into a consumed input stay
    /// assembled in it for good: they went into the outputs with it (child -> input -> outputs).
    /// @param outputBatch batch key for the outputs, 0 for none
    /// @param disposition keccak256 of the CBV 2.0 disposition URI of the outputs
    /// @param eventHash CBV 2.0 event hash of the TransformationEvent
    /// @return recordId the new record
    function transform(
        bytes32[] calldata inputs,
        bytes32[] calldata outputs,
        bytes32 outputBatch,
        bytes32 disposition,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        uint32 org = _callerOrgWithEither(IConsortium.Role.Supplier, IConsortium.Role.Manufacturer);
        if (inputs.length == 0 || outputs.length == 0) revert EmptyKeyList();
        if (disposition == bytes32(0)) revert ZeroDisposition();
        recordId = _newRecord(RecordKind.Transform, org, eventHash, 0);
        for (uint256 i; i < inputs.length; ++i) {
            bytes32 key = inputs[i];
            // Active excludes consumed, in-transit and assembled items (and repeated inputs).
            Item storage it = _held(key, org);
            // The outputs are the caller's: a mere custodian turning goods into its own would
            // take them from their owner.
            if (it.owner != org) revert NotOwner(key, org, it.owner);
            it.status = ItemStatus.Consumed;
            it.lastRecord = recordId;
            emit ItemConsumed(key, recordId);
        }
        _requireAllProven(outputs, org);
        (uint32 batchIndex, bool inherit) = _useBatch(outputBatch, org, recordId, disposition, outputs.length);
        for (uint256 i; i < outputs.length; ++i) {
            _create(outputs[i], org, recordId, batchIndex, outputBatch, disposition, !inherit);
        }
        emit Transformed(recordId, org, inputs, outputs);
    }

    /// @notice Assembly (EPCIS aggregation ADD): puts active children held by the caller into an
    /// active parent held by the caller; every child must have the parent's owner (ownership
    /// changes only by a transfer its owner ships, and parts then travel with the product). Children then move with the parent and cannot be
    /// shipped, consumed or assembled on their own. Parent and children are all top-level items,
    /// so no cycle can form.
    /// @param eventHash CBV 2.0 event hash of the AggregationEvent
    /// @return recordId the new record
    function assemble(
        bytes32 parent,
        bytes32[] calldata children,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        uint32 org = _callerOrgWithEither(IConsortium.Role.Supplier, IConsortium.Role.Manufacturer);
        if (children.length == 0) revert EmptyKeyList();
        Item storage p = _held(parent, org);
        recordId = _newRecord(RecordKind.Assemble, org, eventHash, 0);
        p.lastRecord = recordId;
        for (uint256 i; i < children.length; ++i) {
            bytes32 key = children[i];
            if (key == parent) revert AssemblyCycle(key);
            Item storage it = _held(key, org);
            // Assembled parts follow the product's owner: only its own parts may go in, or a
            // custodian could take them out again as theirs.
            if (it.owner != p.owner) revert OwnerMismatch(key, it.owner, p.owner);
            it.status = ItemStatus.Assembled;
            it.lastRecord = recordId;
            _parent[key] = parent;
            emit Assembled(key, parent, recordId);
        }
    }

    /// @notice Disassembly (EPCIS aggregation DELETE): takes children out of an active parent
    /// held by the caller; they become active items held by the caller and owned by the parent's
    /// owner.
    /// @param eventHash CBV 2.0 event hash of the AggregationEvent
    /// @return recordId the new record
    function disassemble(
        bytes32 parent,
        bytes32[] calldata children,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        uint32 org = _callerOrgWithEither(IConsortium.Role.Supplier, IConsortium.Role.Manufacturer);
        if (children.length == 0) revert EmptyKeyList();
        Item storage p = _held(parent, org);
        recordId = _newRecord(RecordKind.Disassemble, org, eventHash, 0);
        p.lastRecord = recordId;
        uint32 owner = p.owner;
        for (uint256 i; i < children.length; ++i) {
            bytes32 key = children[i];
            bytes32 actual = _parent[key];
            if (actual != parent) revert NotChildOf(key, parent, actual);
            Item storage it = _items[key];
            it.status = ItemStatus.Active;
            it.owner = owner;
            it.custodian = org;
            it.lastRecord = recordId;
            delete _parent[key];
            emit Disassembled(key, parent, recordId);
        }
    }

    // ---------------------------------------------------------------- quality and status

    /// @notice Records an inspection result by the items' custodian or by a Certifier.
    /// @param eventHash CBV 2.0 event hash of the inspecting ObjectEvent
    /// @return recordId the new record
    function inspect(bytes32[] calldata keys, bool passed, bytes32 eventHash) external returns (uint64 recordId) {
        (uint32 org, uint256 roles) = _writerOrg();
        if (keys.length == 0) revert EmptyKeyList();
        bool certifier = _has(roles, IConsortium.Role.Certifier);
        recordId = _newRecord(RecordKind.Inspect, org, eventHash, 0);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 key = keys[i];
            Item storage it = _existing(key);
            if (!certifier && _resolved(key).custodian != org) revert NotCustodianOrCertifier(key, org);
            it.lastRecord = recordId;
            emit Inspected(key, recordId, org, passed);
        }
    }

    /// @notice Changes the CBV disposition of items held by the caller (not of consumed items).
    /// @param disposition keccak256 of the CBV 2.0 disposition URI
    /// @param eventHash CBV 2.0 event hash of the ObjectEvent carrying the disposition
    /// @return recordId the new record
    function setDisposition(
        bytes32[] calldata keys,
        bytes32 disposition,
        bytes32 eventHash
    ) external returns (uint64 recordId) {
        (uint32 org, ) = _writerOrg();
        if (keys.length == 0) revert EmptyKeyList();
        if (disposition == bytes32(0)) revert ZeroDisposition();
        recordId = _newRecord(RecordKind.Disposition, org, eventHash, 0);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 key = keys[i];
            Item storage it = _existing(key);
            if (it.status == ItemStatus.Consumed) revert InvalidStatus(key, it.status);
            uint32 custodian = _resolved(key).custodian;
            if (custodian != org) revert NotCustodian(key, org, custodian);
            _disposition[key] = disposition;
            it.lastRecord = recordId;
            emit DispositionChanged(key, recordId, disposition);
        }
    }

    /// @notice Recalls items, by their owner or by any Regulator. A recall does not freeze the
    /// items: they must still be able to travel back.
    /// @param eventHash CBV 2.0 event hash of the recall event
    /// @return recordId the new record
    function recall(bytes32[] calldata keys, bytes32 eventHash) external returns (uint64 recordId) {
        (uint32 org, uint256 roles) = _writerOrg();
        if (keys.length == 0) revert EmptyKeyList();
        bool regulator = _has(roles, IConsortium.Role.Regulator);
        recordId = _newRecord(RecordKind.Recall, org, eventHash, 0);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 key = keys[i];
            Item storage it = _existing(key);
            if (!regulator && _resolved(key).owner != org) revert NotOwnerOrRegulator(key, org);
            if (it.recalled || _batches[_batchKeyAt[it.batchIndex]].recalled) revert AlreadyRecalled(key);
            it.recalled = true;
            it.lastRecord = recordId;
            emit Recalled(key, recordId, org);
        }
    }

    /// @notice Recalls a whole batch, by its owner or by any Regulator: every member item,
    /// present and future, reads as recalled.
    /// @param eventHash CBV 2.0 event hash of the recall event
    /// @return recordId the new record
    function recallBatch(bytes32 batchKey, bytes32 eventHash) external returns (uint64 recordId) {
        (uint32 org, uint256 roles) = _writerOrg();
        Batch storage b = _batches[batchKey];
        if (b.index == 0) revert UnknownBatch(batchKey);
        if (b.owner != org && !_has(roles, IConsortium.Role.Regulator)) revert NotOwnerOrRegulator(batchKey, org);
        if (b.recalled) revert BatchIsRecalled(batchKey);
        recordId = _newRecord(RecordKind.RecallBatch, org, eventHash, 0);
        b.recalled = true;
        emit BatchRecalled(batchKey, recordId, org);
    }

    /// @notice Records a correction (an EPCIS corrective event) of an earlier record made by the
    /// caller's organisation. The corrected record stays; state changes it caused are undone, if
    /// at all, by further ordinary records.
    /// @param recordId the record being corrected
    /// @param eventHash CBV 2.0 event hash of the corrective event
    /// @return correctionId the new record
    function correct(uint64 recordId, bytes32 eventHash) external returns (uint64 correctionId) {
        (uint32 org, ) = _writerOrg();
        if (recordId == 0 || recordId > _recordCount) revert UnknownRecord(recordId);
        uint32 author = _records[recordId].orgId;
        if (author != org) revert NotRecordAuthor(recordId, org, author);
        correctionId = _newRecord(RecordKind.Correction, org, eventHash, recordId);
    }

    /// @notice Records that the caller's organisation captured an EPCIS event that changes nothing
    /// the registry tracks: an OBSERVE without a custody or status step, an AssociationEvent,
    /// quantities of a class, or items never registered on this chain. The chain then still holds
    /// the event's hash and who recorded it (verify, never trust); no item is created or changed,
    /// and the keys need not exist. Only events are written per key, so the cost is one record
    /// plus a log per key.
    ///
    /// Only a party records an event, so nobody writes into the history of items it has nothing to
    /// do with (and a hash recorded by others never blocks the entitled organisation's record): for each key, the caller owns, holds or is to
    /// receive the item (resolved through assembly), owns the batch or holds a quantity of it, or, for a key not on chain,
    /// proved it under its namespace in this transaction (`proveKeys`); under `Policy.Unchecked`
    /// (no namespaces) unknown keys need no proof. An event naming no key proves no entitlement:
    /// refused under `Policy.Enforced`, recorded under the open policies.
    /// @param keys keys of the items or batches the event names; none may be zero
    /// @param eventHash CBV 2.0 event hash of the observed event
    /// @return recordId the new record
    function observe(bytes32[] calldata keys, bytes32 eventHash) external returns (uint64 recordId) {
        (uint32 org, ) = _writerOrg();
        IdentifierNamespaces.Policy policy = _policy();
        if (keys.length == 0 && policy == IdentifierNamespaces.Policy.Enforced) revert ObservationNamesNothing(org);
        bool open = policy == IdentifierNamespaces.Policy.Unchecked;
        recordId = _newRecord(RecordKind.Observation, org, eventHash, 0);
        for (uint256 i; i < keys.length; ++i) {
            bytes32 key = keys[i];
            if (key == bytes32(0)) revert ZeroKey();
            if (!_isPartyTo(key, org, open)) revert NotPartyTo(key, org);
            emit Observed(key, recordId);
        }
    }

    // ---------------------------------------------------------------- views

    /// @notice The item's full state; `exists` is false (and all else zero) for unknown keys.
    function itemState(bytes32 key) external view returns (ItemState memory s) {
        Item storage it = _items[key];
        if (it.status == ItemStatus.None) return s;
        Item storage top = _resolved(key);
        bytes32 batchKey = _batchKeyAt[it.batchIndex];
        s.exists = true;
        s.status = it.status;
        s.ownerOrg = top.owner;
        s.custodianOrg = top.custodian;
        s.consigneeOrg = it.consignee;
        s.transfersOwnership = it.transfersOwnership;
        s.recalled = it.recalled || _batches[batchKey].recalled;
        s.parent = _parent[key];
        s.batch = batchKey;
        s.disposition = _dispositionOf(key, batchKey);
        s.createdAt = it.createdAt;
        s.lastRecord = it.lastRecord;
    }

    /// @notice The owning organisation (resolved through assembly), 0 for unknown keys.
    function ownerOf(bytes32 key) external view returns (uint32) {
        return _resolved(key).owner;
    }

    /// @notice The organisation holding the item (resolved through assembly), 0 for unknown keys.
    function custodianOf(bytes32 key) external view returns (uint32) {
        return _resolved(key).custodian;
    }

    /// @notice True when the item or its batch was recalled.
    function isRecalled(bytes32 key) external view returns (bool) {
        Item storage it = _items[key];
        return it.recalled || _batches[_batchKeyAt[it.batchIndex]].recalled;
    }

    /// @notice A batch's state; `exists` is false for unknown keys.
    function batchState(bytes32 batchKey) external view returns (BatchState memory s) {
        Batch storage b = _batches[batchKey];
        if (b.index == 0) return s;
        s.exists = true;
        s.ownerOrg = b.owner;
        s.recalled = b.recalled;
        s.createdAt = b.createdAt;
        s.itemCount = b.itemCount;
        s.disposition = b.disposition;
    }

    /// @notice Quantity of lot `batchKey` held by organisation `orgId` (not counting what is in transit).
    function lotBalanceOf(bytes32 batchKey, uint32 orgId) external view returns (uint256) {
        return _lotBalance[batchKey][orgId];
    }

    /// @notice Quantity of lot `batchKey` shipped by `fromOrg` to `toOrg` and not yet received.
    function lotInTransit(bytes32 batchKey, uint32 fromOrg, uint32 toOrg) external view returns (uint256) {
        return _lotInTransit[batchKey][fromOrg][toOrg];
    }

    /// @notice Unit of a lot's quantities (0 = a count), and whether any quantity was registered.
    function lotUnit(bytes32 batchKey) external view returns (bytes8 unit, bool registered) {
        return (_lotUnit[batchKey], _lotUnitSet[batchKey]);
    }

    /// @notice The first record carrying `eventHash`, by whichever organisation; 0 when the event
    /// was never recorded. Says nothing about whose event it is: see `recordOfEventBy`.
    function recordOfEvent(bytes32 eventHash) external view returns (uint64) {
        return _recordOfEvent[eventHash];
    }

    /// @notice The record of `eventHash` made by organisation `orgId`, 0 when it made none: what a
    /// verifier asks for the organisation an event belongs to.
    function recordOfEventBy(bytes32 eventHash, uint32 orgId) external view returns (uint64) {
        return _recordBy(eventHash, orgId);
    }

    /// @notice Record `recordId`; kind None (all zero) when it does not exist.
    function record(uint64 recordId) external view returns (Record memory) {
        return _records[recordId];
    }

    /// @notice Number of records; record ids run from 1 to this.
    function recordCount() external view returns (uint64) {
        return _recordCount;
    }

    // ---------------------------------------------------------------- internals

    /// @dev Calling organisation with some write role: Auditors (and role-less organisations)
    /// only read.
    function _writerOrg() private view returns (uint32 orgId, uint256 roles) {
        (orgId, roles) = _callerOrg();
        if (roles & ~AUDITOR_BIT == 0) revert NoWriteRights(orgId);
    }

    function _newRecord(
        RecordKind kind,
        uint32 org,
        bytes32 eventHash,
        uint64 corrects
    ) private returns (uint64 recordId) {
        if (eventHash == bytes32(0)) revert ZeroEventHash();
        uint64 first = _recordOfEvent[eventHash];
        if (first != 0) {
            uint64 existing = _recordBy(eventHash, org);
            if (existing != 0) revert DuplicateEventHash(eventHash, existing);
        }
        recordId = ++_recordCount;
        _records[recordId] = Record({
            eventHash: eventHash,
            orgId: org,
            kind: kind,
            timestamp: uint40(block.timestamp),
            corrects: corrects
        });
        // The first record of a hash stays where it always was (one slot, the usual case).
        if (first == 0) _recordOfEvent[eventHash] = recordId;
        else _laterRecordOfEvent[eventHash][org] = recordId;
        emit Recorded(recordId, org, eventHash, kind, corrects);
    }

    /// @dev A positive quantity of a lot registered by quantity, in its unit.
    function _requireQuantity(bytes32 batchKey, uint256 quantity, bytes8 unit) private view {
        if (quantity == 0) revert ZeroQuantity(batchKey);
        if (!_lotUnitSet[batchKey]) revert UnknownBatch(batchKey);
        _requireUnit(batchKey, unit);
    }

    function _requireUnit(bytes32 batchKey, bytes8 unit) private view {
        bytes8 lotUnit_ = _lotUnit[batchKey];
        if (unit != lotUnit_) revert UnitMismatch(batchKey, unit, lotUnit_);
    }

    /// @dev Moves `quantity` of a lot in transit between the calling writer and `other` into the
    /// caller's balance, under a new record of `kind`: a Receive takes it from `other`'s shipment to
    /// the caller, a CancelShipment from the caller's own shipment to `other`.
    function _settleInTransit(
        RecordKind kind,
        bytes32 batchKey,
        uint32 other,
        uint256 quantity,
        bytes8 unit,
        bytes32 eventHash
    ) private returns (uint32 org, uint64 recordId) {
        (org, ) = _writerOrg();
        _requireQuantity(batchKey, quantity, unit);
        recordId = _newRecord(kind, org, eventHash, 0);
        (uint32 fromOrg, uint32 toOrg) = kind == RecordKind.Receive ? (other, org) : (org, other);
        uint256 pending = _lotInTransit[batchKey][fromOrg][toOrg];
        if (quantity > pending) revert InsufficientQuantity(batchKey, org, quantity, pending);
        _lotInTransit[batchKey][fromOrg][toOrg] = pending - quantity;
        _lotBalance[batchKey][org] += quantity;
    }

    function _recordBy(bytes32 eventHash, uint32 org) private view returns (uint64) {
        uint64 first = _recordOfEvent[eventHash];
        if (first != 0 && _records[first].orgId == org) return first;
        return _laterRecordOfEvent[eventHash][org];
    }

    /// @dev Creates the batch on first use or checks the caller owns it, and counts the items.
    /// @return batchIndex 0 when `batchKey` is 0
    /// @return inherit the items' disposition equals the batch's, so they need not store it
    function _useBatch(
        bytes32 batchKey,
        uint32 org,
        uint64 recordId,
        bytes32 disposition,
        uint256 count
    ) private returns (uint32 batchIndex, bool inherit) {
        if (batchKey == bytes32(0)) return (0, false);
        Batch storage b = _batches[batchKey];
        batchIndex = b.index;
        if (batchIndex == 0) {
            _requireProven(batchKey, org);
            batchIndex = ++_batchCount;
            b.owner = org;
            b.index = batchIndex;
            b.createdAt = uint40(block.timestamp);
            b.disposition = disposition;
            _batchKeyAt[batchIndex] = batchKey;
            emit BatchCreated(batchKey, org, recordId, disposition);
        } else {
            if (b.owner != org) revert NotBatchOwner(batchKey, org, b.owner);
            // New members of a recalled batch would be recalled from birth: refuse instead.
            if (b.recalled) revert BatchIsRecalled(batchKey);
        }
        b.itemCount += uint64(count);
        inherit = b.disposition == disposition;
    }

    function _create(
        bytes32 key,
        uint32 org,
        uint64 recordId,
        uint32 batchIndex,
        bytes32 batchKey,
        bytes32 disposition,
        bool storeDisposition
    ) private {
        if (key == bytes32(0)) revert ZeroKey();
        Item storage it = _items[key];
        if (it.status != ItemStatus.None) revert ItemExists(key);
        // One packed SSTORE for the whole item.
        _items[key] = Item({
            owner: org,
            custodian: org,
            consignee: 0,
            status: ItemStatus.Active,
            recalled: false,
            transfersOwnership: false,
            createdAt: uint40(block.timestamp),
            lastRecord: recordId,
            batchIndex: batchIndex
        });
        if (storeDisposition) _disposition[key] = disposition;
        emit ItemCreated(key, batchKey, recordId, disposition);
    }

    /// @dev The organisation that proved `key` in this transaction, 0 when none.
    function _prover(bytes32 key) private view returns (uint32) {
        return uint32(TransientSlot.tload(_proofSlot(key)));
    }

    function _proofSlot(bytes32 key) private pure returns (TransientSlot.Uint256Slot) {
        return TransientSlot.asUint256(key ^ PROOF_SLOT_SALT);
    }

    function _policy() private view returns (IdentifierNamespaces.Policy) {
        return _namespaces.policy();
    }

    /// @dev `org` may create `key`: it proved the key's namespace, or the consortium checks none.
    function _requireProven(bytes32 key, uint32 org) private view {
        if (_prover(key) != org && _policy() != IdentifierNamespaces.Policy.Unchecked) revert KeyNotProven(key, org);
    }

    /// @dev `_requireProven` for many keys, asking the policy at most once.
    function _requireAllProven(bytes32[] calldata keys, uint32 org) private view {
        for (uint256 i; i < keys.length; ++i) {
            if (_prover(keys[i]) == org) continue;
            if (_policy() == IdentifierNamespaces.Policy.Unchecked) return;
            revert KeyNotProven(keys[i], org);
        }
    }

    /// @dev `org` is a party to an event naming `key` (see `observe`); `open`: the policy is Unchecked.
    function _isPartyTo(bytes32 key, uint32 org, bool open) private view returns (bool) {
        Item storage it = _items[key];
        if (it.status != ItemStatus.None) {
            Item storage top = _resolved(key);
            return top.owner == org || top.custodian == org || it.consignee == org || top.consignee == org;
        }
        Batch storage b = _batches[key];
        if (b.index != 0) return b.owner == org || _lotBalance[key][org] != 0;
        return open || _prover(key) == org;
    }

    function _existing(bytes32 key) private view returns (Item storage it) {
        it = _items[key];
        if (it.status == ItemStatus.None) revert UnknownItem(key);
    }

    /// @dev An existing, active (not in transit, consumed or assembled) item held by `org`: the
    /// precondition of every operation that moves, consumes or aggregates an item.
    function _held(bytes32 key, uint32 org) private view returns (Item storage it) {
        it = _existing(key);
        if (it.status != ItemStatus.Active) revert InvalidStatus(key, it.status);
        if (it.custodian != org) revert NotCustodian(key, org, it.custodian);
    }

    /// @dev The topmost ancestor of `key` (itself when not assembled): it carries the owner and
    /// custodian of everything assembled into it. Terminates because assembly never makes a cycle.
    function _resolved(bytes32 key) private view returns (Item storage it) {
        it = _items[key];
        while (it.status == ItemStatus.Assembled) {
            key = _parent[key];
            it = _items[key];
        }
    }

    function _dispositionOf(bytes32 key, bytes32 batchKey) private view returns (bytes32 d) {
        d = _disposition[key];
        if (d == bytes32(0)) d = _batches[batchKey].disposition;
    }
}
