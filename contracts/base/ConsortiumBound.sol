// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";

/// @title Base of every Tracemesh contract that acts on behalf of consortium members.
/// @notice Answers "which active organisation is calling, with which roles" through one call to
/// Consortium, and lets only Consortium upgrade the contract: an upgrade is a governance
/// proposal that a quorum of members passed, never one party's decision.
abstract contract ConsortiumBound is Initializable, UUPSUpgradeable {
    /// @custom:storage-location erc7201:tracemesh.storage.ConsortiumBound
    struct ConsortiumBoundStorage {
        IConsortium consortium;
    }

    // keccak256(abi.encode(uint256(keccak256("tracemesh.storage.ConsortiumBound")) - 1)) & ~bytes32(uint256(0xff))
    bytes32 private constant STORAGE_SLOT = 0xae0c06f560b5b0386295ebe004ee89e3e8766546a61502f185440d27cf009300;

    error ZeroConsortium();
    /// @param account the caller that is not a signing account of an active organisation
    error NotActiveMember(address account);
    /// @param orgId the calling organisation
    /// @param role the role it would need
    error MissingRole(uint32 orgId, IConsortium.Role role);
    /// @param caller who tried to upgrade; only Consortium may
    error UpgradeNotByConsortium(address caller);
    /// @param caller who called a setter that only a passed Call proposal may
    error NotConsortium(address caller);

    /// @dev For settings the consortium decides together: Consortium calls them when a Call
    /// proposal naming this proxy passed (and waited out the execution delay).
    modifier onlyConsortium() {
        if (msg.sender != address(_cbStorage().consortium)) revert NotConsortium(msg.sender);
        _;
    }

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    // solhint-disable-next-line func-name-mixedcase
    function __ConsortiumBound_init(IConsortium consortium_) internal onlyInitializing {
        if (address(consortium_) == address(0)) revert ZeroConsortium();
        _cbStorage().consortium = consortium_;
    }

    function consortium() public view returns (IConsortium) {
        return _cbStorage().consortium;
    }

    /// @dev The calling account's active organisation and its role mask; reverts for outsiders,
    /// suspended and removed organisations.
    function _callerOrg() internal view returns (uint32 orgId, uint256 roles) {
        (orgId, roles) = _cbStorage().consortium.activeOrgOf(msg.sender);
        if (orgId == 0) revert NotActiveMember(msg.sender);
    }

    /// @dev The calling account's active organisation, which must hold `role`.
    function _callerOrgWithRole(IConsortium.Role role) internal view returns (uint32 orgId) {
        uint256 roles;
        (orgId, roles) = _callerOrg();
        if (!_has(roles, role)) revert MissingRole(orgId, role);
    }

    /// @dev The calling account's active organisation, which must hold one of two roles.
    function _callerOrgWithEither(IConsortium.Role a, IConsortium.Role b) internal view returns (uint32 orgId) {
        uint256 roles;
        (orgId, roles) = _callerOrg();
        if (!_has(roles, a) && !_has(roles, b)) revert MissingRole(orgId, a);
    }

    function _has(uint256 roles, IConsortium.Role role) internal pure returns (bool) {
        return roles & (uint256(1) << uint8(role)) != 0;
    }

    function _authorizeUpgrade(address) internal view override {
        if (msg.sender != address(_cbStorage().consortium)) revert UpgradeNotByConsortium(msg.sender);
    }

    function _cbStorage() private pure returns (ConsortiumBoundStorage storage $) {
        // ERC-7201 namespaced storage keeps this base's slot clear of the inheriting contract's.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            $.slot := STORAGE_SLOT
        }
    }
}
