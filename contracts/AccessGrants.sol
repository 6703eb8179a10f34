// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsortiumBound} from "./base/ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title Read-access grants between member organisations.
/// @notice A data owner lets another organisation read its off-chain data about one scope (an
/// item, an item with its genealogy subtree, a batch, a data stream, or a data stream within a
/// time range) until an expiry, for a stated purpose. Member nodes ask `isAllowed` /
/// `isAllowedAt` before answering a peer; every grant and revocation is an event, so access
/// itself is auditable.
/// @dev There is one grant per (owner, grantee, scopeKey), under a deterministic id; re-issuing
/// it replaces kind, purpose, range and expiry and bumps its version. That keeps the access
/// checks to one storage read plus two membership look-ups, whatever the number of grants.
contract AccessGrants is ConsortiumBound {
    /// @notice What `scopeKey` names. Genealogy subtrees are resolved off chain by the owner's
    /// node; the chain only records that the grant extends to them.
    enum ScopeKind {
        Item, // scopeKey = item key
        ItemWithGenealogy, // scopeKey = item key; also covers the item's genealogy subtree
        Batch, // scopeKey = batch key
        DataStream, // scopeKey = stream id hash; every reading of the stream
        AnchorWindowRange // scopeKey = stream id hash; readings with source time in [from, to)
    }

    /// @notice A grant. The first slot holds all that `isAllowed` reads.
    struct Grant {
        uint32 owner; // data owner organisation; 0 = no such grant
        uint32 grantee; // organisation allowed to read
        ScopeKind kind;
        bool revoked;
        uint32 version; // 1 for the first issue, +1 for each re-issue
        uint64 grantedAt; // time of the latest (re-)issue
        uint64 expiresAt; // exclusive
        uint64 from; // AnchorWindowRange only: first data time covered (inclusive)
        uint64 to; // AnchorWindowRange only: end of the data time covered (exclusive)
        uint64 revokedAt; // 0 = not revoked since the latest issue
        bytes32 scopeKey;
        bytes32 purpose; // purpose code, e.g. keccak256("QUALITY_CLAIM")
    }

    mapping(bytes32 => Grant) private _grants;

    /// @notice What organisations with the Regulator role may read without a grant: bit flags.
    uint8 public constant REGULATOR_RECALL_EVENTS = 1; // documents of recall events
    uint8 public constant REGULATOR_INSPECTION_EVENTS = 2; // documents of inspection events
    uint8 public constant REGULATOR_DISPOSITION_EVENTS = 4; // documents of disposition events
    uint8 public constant REGULATOR_RECALL_SCOPE_ITEMS = 8; // documents of every item in a recall scope
    /// @notice The rule until governance sets one: all of the above.
    uint8 public constant DEFAULT_REGULATOR_RULE = 15;

    /// @dev Set by governance; until then (`_regulatorRuleSet` false) DEFAULT_REGULATOR_RULE holds,
    /// also for proxies deployed before the rule existed.
    uint8 private _regulatorRule;
    bool private _regulatorRuleSet;

    error ZeroScopeKey();
    error ZeroPurpose();
    /// @param orgId the organisation that tried to grant access to itself
    error SelfGrant(uint32 orgId);
    /// @param grantee the organisation that is not an active member
    error GranteeNotActive(uint32 grantee);
    /// @param expiresAt the requested expiry, which is not after the current time
    /// @param nowTs the current block timestamp
    error ExpiryNotInFuture(uint64 expiresAt, uint64 nowTs);
    /// @param kind the scope kind
    /// @param from the requested range start
    /// @param to the requested range end: for AnchorWindowRange it must be after `from`, for
    /// other kinds both must be 0
    error InvalidTimeRange(ScopeKind kind, uint64 from, uint64 to);
    /// @param id the grant id that was never issued
    error UnknownGrant(bytes32 id);
    /// @param rule the requested rule, which has bits no scope defines
    error InvalidRegulatorRule(uint8 rule);
    /// @param id the grant
    /// @param owner its data owner
    /// @param caller the organisation that tried to revoke it
    error NotGrantOwner(bytes32 id, uint32 owner, uint32 caller);
    /// @param id the grant, revoked already since its latest issue
    error GrantAlreadyRevoked(bytes32 id);

    /// @notice `owner` granted (or re-issued, then with a higher `version`) read access.
    event AccessGranted(
        uint32 indexed grantee,
        uint32 indexed owner,
        bytes32 indexed scopeKey,
        bytes32 id,
        ScopeKind kind,
        bytes32 purpose,
        uint64 from,
        uint64 to,
        uint64 expiresAt,
        uint32 version
    );
    /// @notice `owner` revoked the grant `id` in its version `version`.
    event AccessRevoked(
        uint32 indexed grantee,
        uint32 indexed owner,
        bytes32 indexed scopeKey,
        bytes32 id,
        uint32 version
    );

    /// @notice The consortium set what regulators may read without a grant (REGULATOR_* flags).
    event RegulatorRuleChanged(uint8 rule);

    /// @notice Sets the Consortium whose membership this contract follows.
    /// @param consortium_ the Consortium contract (also the only party that may upgrade this one)
    function initialize(IConsortium consortium_) external initializer {
        __ConsortiumBound_init(consortium_);
    }

    /// @notice Grants `grantee` read access to the caller organisation's data about `scopeKey`,
    /// or re-issues that grant (extends, shortens, changes kind, purpose or range, or restores
    /// it after a revocation). Caller: any active member, as the data owner.
    /// @param grantee an active organisation other than the caller's
    /// @param kind what `scopeKey` names
    /// @param scopeKey item key, batch key or stream id hash; not zero
    /// @param purpose purpose code; not zero
    /// @param from AnchorWindowRange: first data time covered (inclusive); other kinds: 0
    /// @param to AnchorWindowRange: end of the data time covered (exclusive, > from); others: 0
    /// @param expiresAt when the grant lapses (exclusive); must be in the future
    /// @return id the grant id, `grantIdOf(owner, grantee, scopeKey)`
    function grantAccess(
        uint32 grantee,
        ScopeKind kind,
        bytes32 scopeKey,
        bytes32 purpose,
        uint64 from,
        uint64 to,
        uint64 expiresAt
    ) external returns (bytes32 id) {
        (uint32 owner, ) = _callerOrg();
        if (grantee == owner) revert SelfGrant(owner);
        if (scopeKey == bytes32(0)) revert ZeroScopeKey();
        if (purpose == bytes32(0)) revert ZeroPurpose();
        if (kind == ScopeKind.AnchorWindowRange ? from >= to : (from != 0 || to != 0)) {
            revert InvalidTimeRange(kind, from, to);
        }
        uint64 nowTs = uint64(block.timestamp);
        if (expiresAt <= nowTs) revert ExpiryNotInFuture(expiresAt, nowTs);
        if (!consortium().isActiveOrg(grantee)) revert GranteeNotActive(grantee);

        id = grantIdOf(owner, grantee, scopeKey);
        Grant storage g = _grants[id];
        uint32 version = g.version + 1;
        _grants[id] = Grant({
            owner: owner,
            grantee: grantee,
            kind: kind,
            revoked: false,
            version: version,
            grantedAt: nowTs,
            expiresAt: expiresAt,
            from: from,
            to: to,
            revokedAt: 0,
            scopeKey: scopeKey,
            purpose: purpose
        });
        emit AccessGranted(grantee, owner, scopeKey, id, kind, purpose, from, to, expiresAt, version);
    }

    /// @notice Revokes a grant now. Caller: the data owner organisation. A later `grantAccess`
    /// for the same scope issues it again.
    /// @param id the grant id
    function revokeAccess(bytes32 id) external {
        (uint32 caller, ) = _callerOrg();
        Grant storage g = _grants[id];
        if (g.owner == 0) revert UnknownGrant(id);
        if (g.owner != caller) revert NotGrantOwner(id, g.owner, caller);
        if (g.revoked) revert GrantAlreadyRevoked(id);
        g.revoked = true;
        g.revokedAt = uint64(block.timestamp);
        emit AccessRevoked(g.grantee, g.owner, g.scopeKey, id, g.version);
    }

    /// @notice Whether `grantee` may read `owner`'s data about the whole of `scopeKey` now: a
    /// grant that is neither revoked nor expired, both organisations active, and a scope not
    /// limited to a time range (ask `isAllowedAt` for those). O(1); never reverts.
    /// @param grantee the organisation asking
    /// @param owner the organisation holding the data
    /// @param scopeKey item key, batch key or stream id hash
    function isAllowed(uint32 grantee, uint32 owner, bytes32 scopeKey) external view returns (bool) {
        Grant storage g = _grants[grantIdOf(owner, grantee, scopeKey)];
        if (g.kind == ScopeKind.AnchorWindowRange || !_live(g)) return false;
        return _bothActive(grantee, owner);
    }

    /// @notice Whether `grantee` may read `owner`'s data about `scopeKey` whose source time is
    /// `dataTime`: as `isAllowed`, and for an AnchorWindowRange grant `dataTime` must lie in
    /// `[from, to)`. For other kinds the data time does not matter. O(1); never reverts.
    /// @param grantee the organisation asking
    /// @param owner the organisation holding the data
    /// @param scopeKey item key, batch key or stream id hash
    /// @param dataTime the source time of the requested data (not the time of the request)
    function isAllowedAt(
        uint32 grantee,
        uint32 owner,
        bytes32 scopeKey,
        uint64 dataTime
    ) external view returns (bool) {
        Grant storage g = _grants[grantIdOf(owner, grantee, scopeKey)];
        if (!_live(g)) return false;
        if (g.kind == ScopeKind.AnchorWindowRange && (dataTime < g.from || dataTime >= g.to)) return false;
        return _bothActive(grantee, owner);
    }

    /// @notice Sets what organisations with the Regulator role may read without a grant. Caller:
    /// the Consortium, executing a governance proposal; no member can set it alone.
    /// @param rule REGULATOR_* flags; 0 lets regulators read only what they are granted
    function setRegulatorRule(uint8 rule) external onlyConsortium {
        if (rule & ~DEFAULT_REGULATOR_RULE != 0) revert InvalidRegulatorRule(rule);
        _regulatorRule = rule;
        _regulatorRuleSet = true;
        emit RegulatorRuleChanged(rule);
    }

    /// @notice What regulators may read without a grant (REGULATOR_* flags).
    function regulatorRule() public view returns (uint8) {
        return _regulatorRuleSet ? _regulatorRule : DEFAULT_REGULATOR_RULE;
    }

    /// @notice Whether `org` is an active organisation with the Regulator role and the
    /// consortium's rule lets regulators read every scope in `scope` (REGULATOR_* flags, not 0).
    /// Never reverts.
    /// @param org the organisation asking
    /// @param scope REGULATOR_* flags
    function regulatorMayRead(uint32 org, uint8 scope) external view returns (bool) {
        if (scope == 0 || regulatorRule() & scope != scope) return false;
        IConsortium c = consortium();
        return c.isActiveOrg(org) && c.hasRole(org, IConsortium.Role.Regulator);
    }

    /// @notice The stored grant; all zero (owner 0) for an unknown id.
    /// @param id the grant id
    function grant(bytes32 id) external view returns (Grant memory) {
        return _grants[id];
    }

    /// @notice The id of the grant from `owner` to `grantee` for `scopeKey`.
    /// @param owner the data owner organisation
    /// @param grantee the organisation allowed to read
    /// @param scopeKey item key, batch key or stream id hash
    function grantIdOf(uint32 owner, uint32 grantee, bytes32 scopeKey) public pure returns (bytes32) {
        return keccak256(abi.encode(owner, grantee, scopeKey));
    }

    /// @dev Issued, not revoked and not expired. An unknown grant has expiresAt 0, so it is not live.
    function _live(Grant storage g) private view returns (bool) {
        return !g.revoked && block.timestamp < g.expiresAt;
    }

    function _bothActive(uint32 grantee, uint32 owner) private view returns (bool) {
        IConsortium c = consortium();
        return c.isActiveOrg(grantee) && c.isActiveOrg(owner);
    }
}
