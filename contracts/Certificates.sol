// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsortiumBound} from "./base/ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title Quality and conformity certificates issued by accredited certifiers.
/// @notice A certificate (EN 10204 3.1 mill test report, ISO 9001 audit, CE conformity, ...) is a
/// W3C Verifiable Credential kept off chain; the chain keeps its fingerprint, who issued it for
/// which item or batch and scope, its validity window and its status. Regulators accredit
/// certifiers per scope, and the accreditation history answers "was issuer X accredited for
/// scope S at time T" long after the fact.
/// @dev Times are block timestamps in seconds. One second is the finest resolution, so a
/// withdrawal counts the second it happened in as still accredited: a certificate issued earlier
/// in that same second (or block) was issued under accreditation. Validity windows and expiries
/// are half-open: `[validFrom, validUntil)`, accredited while `now < expiresAt`.
contract Certificates is ConsortiumBound {
    /// @notice What a verifier is told about a certificate, in order of precedence: a revoked
    /// certificate is Revoked even when superseded or expired, a superseded one is Superseded
    /// even when suspended or expired, a suspended one is Suspended whatever the time; only an
    /// active certificate is NotYetValid, Expired or Valid by its window.
    enum Status {
        Unknown,
        Valid,
        NotYetValid,
        Expired,
        Suspended,
        Revoked,
        Superseded
    }

    /// @notice The stored life-cycle state; time is applied on top of it by `status`.
    enum State {
        None,
        Active,
        Suspended,
        Superseded,
        Revoked
    }

    /// @notice Why a certificate was suspended or revoked. The statement itself (a signed
    /// document) stays off chain; its hash travels with the code. New codes are appended only.
    enum Reason {
        Unspecified,
        IssuedInError, // wrong data on the credential; usually followed by a superseding one
        NonConformity, // the product or process no longer conforms
        Misuse, // the certificate or mark is used beyond its scope
        Fraud, // data or test results were falsified
        HolderRequest, // the certified organisation asked for it
        UnderInvestigation, // a complaint or audit is pending
        KeyCompromise // the signing key of the credential is no longer trusted
    }

    /// @notice One uninterrupted accreditation of a certifier for a scope. Fits one slot.
    struct AccreditationPeriod {
        uint64 from; // start, inclusive
        uint64 expiresAt; // exclusive end set by the regulator; 0 = open-ended
        uint64 withdrawnAt; // when a regulator de-accredited (that second still counts); 0 = not
        uint32 accreditedBy; // regulator organisation that granted the period
        uint32 withdrawnBy; // regulator organisation that withdrew it; 0 = not withdrawn
    }

    /// @notice A certificate as stored. The first slot holds everything `status` needs.
    struct Certificate {
        uint32 issuer; // certifier organisation
        State state;
        Reason reason; // reason of the current suspension or of the revocation
        uint64 issuedAt;
        uint64 validFrom; // inclusive
        uint64 validUntil; // exclusive; 0 = no end (e.g. EN 10204 3.1 reports do not expire)
        uint64 suspendedAt; // last suspension; 0 = never suspended
        uint64 revokedAt; // 0 = not revoked
        bytes32 subject; // item or batch key from Provenance
        bytes32 scope; // certificate type, e.g. keccak256("EN10204-3.1")
        bytes32 reasonHash; // hash of the off-chain statement behind `reason`
        bytes32 supersededBy; // the certificate that replaced this one; 0 = none
        bytes32 supersedes; // the certificate this one replaced; 0 = none
    }

    // certifier org => scope => accreditation periods, oldest first, never overlapping except
    // for the one second of a withdrawal followed by a re-accreditation.
    mapping(uint32 => mapping(bytes32 => AccreditationPeriod[])) private _periods;
    mapping(bytes32 => Certificate) private _certificates;
    // subject => certificate ids in issuance order, for explorers reading the chain directly.
    mapping(bytes32 => bytes32[]) private _bySubject;

    error ZeroScope();
    error ZeroCertificateId();
    error ZeroSubject();
    /// @param orgId the regulator that tried to accredit itself
    error SelfAccreditation(uint32 orgId);
    /// @param orgId the organisation that is not an active member
    error OrgNotActive(uint32 orgId);
    /// @param orgId the organisation that does not hold the Certifier role
    error NotACertifier(uint32 orgId);
    /// @param expiresAt the requested expiry, which is not after the current time
    /// @param nowTs the current block timestamp
    error ExpiryNotInFuture(uint64 expiresAt, uint64 nowTs);
    /// @param certifier the organisation that is not accredited now
    /// @param scope the scope it is not accredited for
    error NotAccredited(uint32 certifier, bytes32 scope);
    /// @param id the certificate id that is already taken
    error CertificateExists(bytes32 id);
    /// @param id the certificate id that was never issued
    error UnknownCertificate(bytes32 id);
    /// @param id the certificate
    /// @param issuer the organisation that issued it
    /// @param caller the organisation that tried to change it
    error NotIssuer(bytes32 id, uint32 issuer, uint32 caller);
    /// @param validFrom the requested start
    /// @param validUntil the requested end, which is not after the start
    error InvalidValidityWindow(uint64 validFrom, uint64 validUntil);
    /// @param validUntil the requested end of validity, which is already past
    /// @param nowTs the current block timestamp
    error ValidityAlreadyEnded(uint64 validUntil, uint64 nowTs);
    /// @param id the certificate
    /// @param state its current state, from which the requested change is not allowed
    error InvalidTransition(bytes32 id, State state);

    /// @notice A regulator accredited `certifier` for `scope`, or changed the expiry of its
    /// current accreditation (then `periodIndex` is that of the existing period).
    event AccreditationGranted(
        uint32 indexed certifier,
        bytes32 indexed scope,
        uint32 indexed regulator,
        uint256 periodIndex,
        uint64 from,
        uint64 expiresAt
    );
    /// @notice A regulator withdrew the accreditation of `certifier` for `scope`.
    event AccreditationWithdrawn(
        uint32 indexed certifier,
        bytes32 indexed scope,
        uint32 indexed regulator,
        uint256 periodIndex,
        uint64 at
    );
    event CertificateIssued(
        bytes32 indexed id,
        bytes32 indexed subject,
        uint32 indexed issuer,
        bytes32 scope,
        uint64 validFrom,
        uint64 validUntil
    );
    event CertificateSuspended(
        bytes32 indexed id,
        bytes32 indexed subject,
        uint32 indexed issuer,
        Reason reason,
        bytes32 reasonHash
    );
    event CertificateReinstated(bytes32 indexed id, bytes32 indexed subject, uint32 indexed issuer);
    event CertificateRevoked(
        bytes32 indexed id,
        bytes32 indexed subject,
        uint32 indexed issuer,
        Reason reason,
        bytes32 reasonHash
    );
    /// @notice `id` was replaced by `newId`, issued in the same transaction (its
    /// CertificateIssued event comes first).
    event CertificateSuperseded(bytes32 indexed id, bytes32 indexed newId, uint32 indexed issuer);

    /// @notice Sets the Consortium whose membership and roles this contract follows.
    /// @param consortium_ the Consortium contract (also the only party that may upgrade this one)
    function initialize(IConsortium consortium_) external initializer {
        __ConsortiumBound_init(consortium_);
    }

    // ---------------------------------------------------------------- accreditation

    /// @notice Accredits `certifier` for `scope` until `expiresAt` (0 = open-ended). When it is
    /// accredited already, only the expiry of the current period changes, which alters no answer
    /// about the past. Caller: an active Regulator organisation.
    /// @param certifier an active organisation holding the Certifier role, not the caller's own
    /// @param scope the certificate type, e.g. keccak256("EN10204-3.1"); not zero
    /// @param expiresAt end of the accreditation (exclusive), in the future, or 0 for none
    function accredit(uint32 certifier, bytes32 scope, uint64 expiresAt) external {
        uint32 regulator = _callerOrgWithRole(IConsortium.Role.Regulator);
        if (certifier == regulator) revert SelfAccreditation(regulator);
        if (scope == bytes32(0)) revert ZeroScope();
        IConsortium c = consortium();
        if (!c.isActiveOrg(certifier)) revert OrgNotActive(certifier);
        if (!c.hasRole(certifier, IConsortium.Role.Certifier)) revert NotACertifier(certifier);
        uint64 nowTs = uint64(block.timestamp);
        if (expiresAt != 0 && expiresAt <= nowTs) revert ExpiryNotInFuture(expiresAt, nowTs);

        AccreditationPeriod[] storage periods = _periods[certifier][scope];
        uint256 n = periods.length;
        if (n != 0 && _live(periods[n - 1], nowTs)) {
            AccreditationPeriod storage current = periods[n - 1];
            current.expiresAt = expiresAt;
            emit AccreditationGranted(certifier, scope, regulator, n - 1, current.from, expiresAt);
        } else {
            periods.push(
                AccreditationPeriod({
                    from: nowTs,
                    expiresAt: expiresAt,
                    withdrawnAt: 0,
                    accreditedBy: regulator,
                    withdrawnBy: 0
                })
            );
            emit AccreditationGranted(certifier, scope, regulator, n, nowTs, expiresAt);
        }
    }

    /// @notice Withdraws the current accreditation of `certifier` for `scope`. Certificates it
    /// issued keep their status; verifiers see that the issuer is no longer accredited.
    /// Caller: an active Regulator organisation.
    /// @param certifier the accredited organisation (whatever its membership status now)
    /// @param scope the scope to withdraw
    function deaccredit(uint32 certifier, bytes32 scope) external {
        uint32 regulator = _callerOrgWithRole(IConsortium.Role.Regulator);
        AccreditationPeriod[] storage periods = _periods[certifier][scope];
        uint256 n = periods.length;
        uint64 nowTs = uint64(block.timestamp);
        if (n == 0 || !_live(periods[n - 1], nowTs)) revert NotAccredited(certifier, scope);
        AccreditationPeriod storage current = periods[n - 1];
        current.withdrawnAt = nowTs;
        current.withdrawnBy = regulator;
        emit AccreditationWithdrawn(certifier, scope, regulator, n - 1, nowTs);
    }

    /// @notice Whether `certifier` is accredited for `scope` now: a live accreditation period and
    /// an active organisation (a suspended certifier is not accredited while suspended).
    /// @param certifier the certifier organisation
    /// @param scope the certificate type
    function isAccredited(uint32 certifier, bytes32 scope) public view returns (bool) {
        AccreditationPeriod[] storage periods = _periods[certifier][scope];
        uint256 n = periods.length;
        return n != 0 && _live(periods[n - 1], uint64(block.timestamp)) && consortium().isActiveOrg(certifier);
    }

    /// @notice Whether `certifier` held an accreditation for `scope` at `time` (by the
    /// accreditation record alone; membership suspensions are Consortium's history).
    /// O(log n) in the number of periods.
    /// @param certifier the certifier organisation
    /// @param scope the certificate type
    /// @param time a block timestamp, past or present
    function wasAccredited(uint32 certifier, bytes32 scope, uint64 time) public view returns (bool) {
        AccreditationPeriod[] storage periods = _periods[certifier][scope];
        // Periods are ordered by `from`; the last one starting at or before `time` is the only
        // one that can cover it, since each earlier period ended before the next began.
        uint256 lo = 0;
        uint256 hi = periods.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) >> 1;
            if (periods[mid].from <= time) lo = mid + 1;
            else hi = mid;
        }
        if (lo == 0) return false;
        AccreditationPeriod storage p = periods[lo - 1];
        return (p.expiresAt == 0 || time < p.expiresAt) && (p.withdrawnBy == 0 || time <= p.withdrawnAt);
    }

    /// @notice How many accreditation periods `certifier` has had for `scope`.
    /// @param certifier the certifier organisation
    /// @param scope the certificate type
    function accreditationPeriodCount(uint32 certifier, bytes32 scope) external view returns (uint256) {
        return _periods[certifier][scope].length;
    }

    /// @notice One accreditation period, oldest first.
    /// @param certifier the certifier organisation
    /// @param scope the certificate type
    /// @param index 0-based, below `accreditationPeriodCount` (reverts otherwise)
    function accreditationPeriod(
        uint32 certifier,
        bytes32 scope,
        uint256 index
    ) external view returns (AccreditationPeriod memory) {
        return _periods[certifier][scope][index];
    }

    // ---------------------------------------------------------------- certificates

    /// @notice Records a certificate. Caller: an active Certifier organisation accredited for
    /// `scope` now.
    /// @param id the credential hash, computed off chain over the canonical credential; unused
    /// @param subject the item or batch key (Provenance) the certificate is about
    /// @param scope the certificate type, e.g. keccak256("EN10204-3.1")
    /// @param validFrom start of validity (inclusive); may lie in the past
    /// @param validUntil end of validity (exclusive), after `validFrom` and in the future; 0 = none
    function issue(bytes32 id, bytes32 subject, bytes32 scope, uint64 validFrom, uint64 validUntil) external {
        uint32 issuer = _callerOrgWithRole(IConsortium.Role.Certifier);
        _issue(issuer, id, subject, scope, validFrom, validUntil, bytes32(0));
    }

    /// @notice Suspends an active certificate (e.g. while a complaint is investigated). Allowed
    /// to the issuer even after losing accreditation, since it only lowers trust.
    /// @param id the certificate, which must be Active
    /// @param reason why
    /// @param reasonHash hash of the off-chain statement (may be zero)
    function suspend(bytes32 id, Reason reason, bytes32 reasonHash) external {
        (Certificate storage cert, ) = _issuedByCaller(id, false);
        if (cert.state != State.Active) revert InvalidTransition(id, cert.state);
        cert.state = State.Suspended;
        cert.reason = reason;
        cert.suspendedAt = uint64(block.timestamp);
        cert.reasonHash = reasonHash;
        emit CertificateSuspended(id, cert.subject, cert.issuer, reason, reasonHash);
    }

    /// @notice Lifts a suspension. Caller: the issuer, accredited for the certificate's scope
    /// now, since reinstating vouches for the certificate again.
    /// @param id the certificate, which must be Suspended
    function reinstate(bytes32 id) external {
        (Certificate storage cert, uint32 caller) = _issuedByCaller(id, true);
        if (cert.state != State.Suspended) revert InvalidTransition(id, cert.state);
        _requireAccredited(caller, cert.scope);
        cert.state = State.Active;
        cert.reason = Reason.Unspecified;
        cert.reasonHash = bytes32(0);
        emit CertificateReinstated(id, cert.subject, cert.issuer);
    }

    /// @notice Revokes a certificate for good. Allowed from Active, Suspended and Superseded (a
    /// replaced certificate may still turn out to have been wrong); not undone by anything.
    /// Allowed to the issuer even after losing accreditation.
    /// @param id the certificate
    /// @param reason why
    /// @param reasonHash hash of the off-chain statement (may be zero)
    function revoke(bytes32 id, Reason reason, bytes32 reasonHash) external {
        (Certificate storage cert, ) = _issuedByCaller(id, false);
        if (cert.state == State.Revoked) revert InvalidTransition(id, cert.state);
        cert.state = State.Revoked;
        cert.reason = reason;
        cert.revokedAt = uint64(block.timestamp);
        cert.reasonHash = reasonHash;
        emit CertificateRevoked(id, cert.subject, cert.issuer, reason, reasonHash);
    }

    /// @notice Replaces an Active or Suspended certificate with a new one issued in the same
    /// call; the new one points back (`supersedes`), the old one forward (`supersededBy`). The
    /// new certificate may correct the subject, scope or window. Caller: the issuer of the old
    /// one, accredited for `scope` now.
    /// @param id the certificate to replace
    /// @param newId the credential hash of the replacement; unused
    /// @param subject the replacement's subject
    /// @param scope the replacement's certificate type
    /// @param validFrom the replacement's start of validity (inclusive)
    /// @param validUntil the replacement's end of validity (exclusive); 0 = none
    function supersede(
        bytes32 id,
        bytes32 newId,
        bytes32 subject,
        bytes32 scope,
        uint64 validFrom,
        uint64 validUntil
    ) external {
        (Certificate storage old, uint32 caller) = _issuedByCaller(id, true);
        if (old.state != State.Active && old.state != State.Suspended) revert InvalidTransition(id, old.state);
        _issue(caller, newId, subject, scope, validFrom, validUntil, id);
        old.state = State.Superseded;
        old.supersededBy = newId;
        emit CertificateSuperseded(id, newId, caller);
    }

    /// @notice What a verifier needs: the status with its precedence (see `Status`), whether the
    /// issuer was accredited for the certificate's scope when it issued it, and whether it is now
    /// (accredited and an active member). Never reverts; unknown ids answer (Unknown, false, false).
    /// @param id the credential hash
    function status(
        bytes32 id
    ) external view returns (Status current, bool accreditedAtIssuance, bool accreditedNow) {
        Certificate storage cert = _certificates[id];
        State state = cert.state;
        if (state == State.None) return (Status.Unknown, false, false);
        if (state == State.Revoked) current = Status.Revoked;
        else if (state == State.Superseded) current = Status.Superseded;
        else if (state == State.Suspended) current = Status.Suspended;
        else if (block.timestamp < cert.validFrom) current = Status.NotYetValid;
        else if (cert.validUntil != 0 && block.timestamp >= cert.validUntil) current = Status.Expired;
        else current = Status.Valid;
        accreditedAtIssuance = wasAccredited(cert.issuer, cert.scope, cert.issuedAt);
        accreditedNow = isAccredited(cert.issuer, cert.scope);
    }

    /// @notice The full stored record; all zero (issuer 0, state None) for an unknown id.
    /// @param id the credential hash
    function certificate(bytes32 id) external view returns (Certificate memory) {
        return _certificates[id];
    }

    /// @notice How many certificates were issued for `subject`.
    /// @param subject the item or batch key
    function certificateCountOf(bytes32 subject) external view returns (uint256) {
        return _bySubject[subject].length;
    }

    /// @notice A page of the certificate ids of `subject`, in issuance order.
    /// @param subject the item or batch key
    /// @param offset index of the first id; past the end gives an empty page
    /// @param limit the most ids to return
    function certificatesOf(
        bytes32 subject,
        uint256 offset,
        uint256 limit
    ) external view returns (bytes32[] memory ids) {
        bytes32[] storage all = _bySubject[subject];
        uint256 n = all.length;
        if (offset >= n) return new bytes32[](0);
        uint256 end = n - offset < limit ? n : offset + limit;
        ids = new bytes32[](end - offset);
        for (uint256 i = offset; i < end; ++i) ids[i - offset] = all[i];
    }

    // ---------------------------------------------------------------- internals

    function _issue(
        uint32 issuer,
        bytes32 id,
        bytes32 subject,
        bytes32 scope,
        uint64 validFrom,
        uint64 validUntil,
        bytes32 supersedes
    ) private {
        if (id == bytes32(0)) revert ZeroCertificateId();
        if (subject == bytes32(0)) revert ZeroSubject();
        if (scope == bytes32(0)) revert ZeroScope();
        if (_certificates[id].state != State.None) revert CertificateExists(id);
        uint64 nowTs = uint64(block.timestamp);
        if (validUntil != 0) {
            if (validUntil <= validFrom) revert InvalidValidityWindow(validFrom, validUntil);
            // An already-ended certificate would never be valid; that is a mistake, not a record.
            if (validUntil <= nowTs) revert ValidityAlreadyEnded(validUntil, nowTs);
        }
        _requireAccredited(issuer, scope);

        Certificate storage cert = _certificates[id];
        cert.issuer = issuer;
        cert.state = State.Active;
        cert.issuedAt = nowTs;
        cert.validFrom = validFrom;
        cert.validUntil = validUntil;
        cert.subject = subject;
        cert.scope = scope;
        if (supersedes != bytes32(0)) cert.supersedes = supersedes;
        _bySubject[subject].push(id);
        emit CertificateIssued(id, subject, issuer, scope, validFrom, validUntil);
    }

    /// @dev The certificate `id` and the calling organisation, which must be its issuer and an
    /// active member (a suspended or removed certifier changes nothing). Changes that vouch for
    /// a certificate (reinstate, supersede) also need the Certifier role; those that withdraw
    /// trust (suspend, revoke) stay open to an issuer that lost it.
    function _issuedByCaller(
        bytes32 id,
        bool vouching
    ) private view returns (Certificate storage cert, uint32 caller) {
        if (vouching) caller = _callerOrgWithRole(IConsortium.Role.Certifier);
        else (caller, ) = _callerOrg();
        cert = _certificates[id];
        if (cert.state == State.None) revert UnknownCertificate(id);
        if (cert.issuer != caller) revert NotIssuer(id, cert.issuer, caller);
    }

    /// @dev The caller is known to be active; only the accreditation record is checked.
    function _requireAccredited(uint32 certifier, bytes32 scope) private view {
        AccreditationPeriod[] storage periods = _periods[certifier][scope];
        uint256 n = periods.length;
        if (n == 0 || !_live(periods[n - 1], uint64(block.timestamp))) revert NotAccredited(certifier, scope);
    }

    function _live(AccreditationPeriod storage p, uint64 nowTs) private view returns (bool) {
        return p.withdrawnBy == 0 && (p.expiresAt == 0 || nowTs < p.expiresAt);
    }
}
