// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title The consortium's membership, as every other Tracemesh contract sees it.
/// @notice Organisations are numbered from 1; 0 means "no organisation". Roles are bits in a
/// uint256 mask so one storage read answers any role question.
interface IConsortium {
    /// @dev Bit positions in an organisation's role mask (see `roleBit`).
    enum Role {
        Supplier, // registers and transforms parts and batches
        Manufacturer, // OEM: assembles, transforms, commissions products
        Logistics, // carries goods between members
        Certifier, // lab or certification body: inspects, issues certificates once accredited
        Regulator, // accredits certifiers, may recall anything
        Auditor // reads and audits; no write rights of its own
    }

    enum OrgStatus {
        None,
        Active,
        Suspended,
        Removed
    }

    /// @return true when `account` is a signing account of an organisation that is active now.
    function isActiveMember(address account) external view returns (bool);

    /// @return the organisation that `account` signs for, whatever that organisation's status; 0 when
    /// the account belongs to none or was retired from its organisation by governance.
    function orgOf(address account) external view returns (uint32);

    /// @return orgId the active organisation `account` signs for, or 0 when none or not active;
    /// @return roles that organisation's role mask (0 when orgId is 0). One call for modifiers.
    function activeOrgOf(address account) external view returns (uint32 orgId, uint256 roles);

    function isActiveOrg(uint32 orgId) external view returns (bool);

    /// @return true when organisation `orgId` holds `role` (regardless of its status).
    function hasRole(uint32 orgId, Role role) external view returns (bool);

    /// @return true when the libp2p peer id is a node identity of an active organisation.
    function isMemberPeer(string calldata peerId) external view returns (bool);

    /// @return the organisation owning the libp2p peer id, 0 when unknown.
    function orgOfPeer(string calldata peerId) external view returns (uint32);
}
