// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ConsortiumBound} from "./base/ConsortiumBound.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";

/// @title Identifier namespaces: which organisation may create identifiers under which prefix.
/// @notice An issuing agency's prefix (a GS1 Company Prefix, or another agency's) is registered to
/// the organisation holding it by governance (a proposal of Consortium calls the setters); only
/// that organisation then creates item and batch keys under it in Provenance, so nobody can
/// commission a competitor's predictable serials or lots first.
///
/// Keys and proofs (lib/identifiers.ts `keyProofOfCanonical`): the canonical identifier (a GS1
/// Digital Link on https://id.gs1.org) is split into a public `head` (the URI up to its fourth
/// "/", the lead, and at most the first 13 characters of the primary key's value, which hold an
/// indicator or extension digit and a Company Prefix of up to 12 digits) and a private tail
/// (serial, lot, rest of the reference). key = keccak256(head ‖ keccak256(tail)). Because the tail
/// enters only as a 32-byte hash at the end of the preimage, a key has exactly one head, so a
/// creator proves its namespace by revealing the head alone; serials stay off chain.
///
/// A scheme maps a lead (e.g. "https://id.gs1.org/01/") to the number of characters between the
/// lead and the prefix (1 for a GTIN's indicator digit, 0 for a GIAI). Registered prefixes are
/// prefix-free (none is a prefix of another), as GS1 allocates them, so at most one holder
/// matches any head.
///
/// Identifiers under no registered prefix (and under leads no scheme knows): refused by default
/// (`Policy.Enforced`). The consortium may set `Policy.OpenUnregistered` (anyone may create keys
/// whose proven namespace nobody holds; registered prefixes stay protected) or `Policy.Unchecked`
/// (keys are accepted without proof, as before namespaces existed: no protection at all, for
/// migrations only).
contract IdentifierNamespaces is ConsortiumBound {
    enum Policy {
        Enforced,
        OpenUnregistered,
        Unchecked
    }

    /// @param lead the identifier URI up to and including its fourth "/"
    /// @param skip characters between the lead and the prefix (at most MAX_SKIP)
    struct Scheme {
        bytes lead;
        uint8 skip;
    }

    struct PrefixGrant {
        bytes prefix;
        uint32 orgId;
    }

    /// @notice Characters of the primary key's value that a head carries at most (lib/identifiers.ts
    /// NAMESPACE_CHARS): room for one skipped character and a prefix of MAX_PREFIX_LENGTH.
    uint8 public constant NAMESPACE_CHARS = 13;
    uint8 public constant MAX_SKIP = 1;
    uint8 public constant MAX_PREFIX_LENGTH = 12;

    mapping(bytes32 leadHash => uint8 skipPlusOne) private _schemes;
    mapping(bytes32 prefixHash => uint32 orgId) private _holders;
    /// @dev How many registered prefixes extend this string: a prefix of a registered one cannot be registered.
    mapping(bytes32 prefixHash => uint32 count) private _extended;
    Policy public policy;

    event SchemeSet(bytes lead, uint8 skip);
    event PrefixRegistered(bytes prefix, uint32 indexed orgId);
    event PrefixReleased(bytes prefix, uint32 indexed orgId);
    event PolicySet(Policy policy);

    error InvalidPrefix(bytes prefix);
    error InvalidScheme(bytes lead, uint8 skip);
    /// @param holderOrg the organisation that holds it already
    error PrefixTaken(bytes prefix, uint32 holderOrg);
    /// @param conflicting the registered prefix this one extends (itself when a registered one extends it)
    error PrefixOverlaps(bytes prefix, bytes conflicting);
    error PrefixNotRegistered(bytes prefix);
    error InactiveOrg(uint32 orgId);

    /// @notice Binds the registry to the consortium and bootstraps it (once, via the proxy).
    /// @param schemes the leads identifiers are proven under (e.g. the GS1 Digital Link primary keys)
    /// @param grants prefixes of the founding organisations
    function initialize(
        IConsortium consortium_,
        Scheme[] calldata schemes,
        PrefixGrant[] calldata grants,
        Policy policy_
    ) external initializer {
        __ConsortiumBound_init(consortium_);
        for (uint256 i; i < schemes.length; ++i) _setScheme(schemes[i].lead, schemes[i].skip);
        for (uint256 i; i < grants.length; ++i) _register(grants[i].prefix, grants[i].orgId);
        policy = policy_;
        emit PolicySet(policy_);
    }

    // ---------------------------------------------------------------- governance

    /// @notice Registers `prefix` to active organisation `orgId`; it may neither extend nor be
    /// extended by a registered prefix.
    function registerPrefix(bytes calldata prefix, uint32 orgId) external onlyConsortium {
        _register(prefix, orgId);
    }

    /// @notice Frees a prefix (its holder lost it, or it was registered in error). Keys created
    /// under it stay as they are.
    function releasePrefix(bytes calldata prefix) external onlyConsortium {
        bytes32 h = keccak256(prefix);
        uint32 holder = _holders[h];
        if (holder == 0) revert PrefixNotRegistered(prefix);
        delete _holders[h];
        for (uint256 len = 1; len < prefix.length; ++len) --_extended[keccak256(prefix[:len])];
        emit PrefixReleased(prefix, holder);
    }

    /// @notice Adds or changes a scheme (another issuing agency's identifiers).
    function setScheme(bytes calldata lead, uint8 skip) external onlyConsortium {
        _setScheme(lead, skip);
    }

    function setPolicy(Policy policy_) external onlyConsortium {
        policy = policy_;
        emit PolicySet(policy_);
    }

    // ---------------------------------------------------------------- views

    /// @notice The organisation holding `prefix`, 0 when none.
    function holderOfPrefix(bytes calldata prefix) external view returns (uint32) {
        return _holders[keccak256(prefix)];
    }

    /// @notice The organisation whose prefix `head` carries, 0 when none (or the lead is no
    /// known scheme), and the policy, in one call.
    /// @param lengthHint the prefix's length as the creator knows it: checked first, which spares
    /// the search; a wrong or zero hint only costs the search
    /// @return holder the holding organisation, 0 when none
    /// @return prefixLength the matching prefix's length (0 when none)
    /// @return policy_ the consortium's policy for unregistered namespaces
    function holderOf(
        bytes calldata head,
        uint8 lengthHint
    ) external view returns (uint32 holder, uint8 prefixLength, Policy policy_) {
        policy_ = policy;
        (bool known, uint256 start) = _prefixStart(head);
        if (!known) return (0, 0, policy_);
        if (lengthHint != 0 && start + lengthHint <= head.length) {
            holder = _holders[keccak256(head[start:start + lengthHint])];
            if (holder != 0) return (holder, lengthHint, policy_);
        }
        uint256 end = head.length < start + MAX_PREFIX_LENGTH ? head.length : start + MAX_PREFIX_LENGTH;
        for (uint256 e = start + 1; e <= end; ++e) {
            holder = _holders[keccak256(head[start:e])];
            if (holder != 0) return (holder, uint8(e - start), policy_);
        }
        return (0, 0, policy_);
    }

    // ---------------------------------------------------------------- internals

    /// @dev Where the prefix begins in `head`: after the lead (up to the fourth "/") and the scheme's skip.
    function _prefixStart(bytes calldata head) private view returns (bool known, uint256 start) {
        uint256 slashes;
        uint256 n = head.length;
        for (uint256 i; i < n; ++i) {
            if (head[i] == "/" && ++slashes == 4) {
                uint8 skipPlusOne = _schemes[keccak256(head[:i + 1])];
                if (skipPlusOne == 0) return (false, 0);
                return (true, i + skipPlusOne);
            }
        }
        return (false, 0);
    }

    function _setScheme(bytes calldata lead, uint8 skip) private {
        if (skip > MAX_SKIP || lead.length == 0 || lead[lead.length - 1] != "/") revert InvalidScheme(lead, skip);
        _schemes[keccak256(lead)] = skip + 1;
        emit SchemeSet(lead, skip);
    }

    function _register(bytes calldata prefix, uint32 orgId) private {
        if (prefix.length == 0 || prefix.length > MAX_PREFIX_LENGTH) revert InvalidPrefix(prefix);
        if (!consortium().isActiveOrg(orgId)) revert InactiveOrg(orgId);
        bytes32 h = keccak256(prefix);
        uint32 holder = _holders[h];
        if (holder != 0) revert PrefixTaken(prefix, holder);
        if (_extended[h] != 0) revert PrefixOverlaps(prefix, prefix);
        for (uint256 len = 1; len < prefix.length; ++len) {
            bytes32 p = keccak256(prefix[:len]);
            if (_holders[p] != 0) revert PrefixOverlaps(prefix, prefix[:len]);
            ++_extended[p];
        }
        _holders[h] = orgId;
        emit PrefixRegistered(prefix, orgId);
    }
}
