// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IConsortium} from "./interfaces/IConsortium.sol";
import {IBesuPermissioning} from "./interfaces/IBesuPermissioning.sol";
import {ConsortiumState} from "./base/ConsortiumState.sol";
import {EnodeIds} from "./libraries/EnodeIds.sol";

/// @title What Besu asks Consortium: validators, node connections, transactions.
/// @notice Besu is configured with the Consortium proxy's address (genesis `validatorcontractaddress`
/// and both permissioning contract addresses), so Consortium keeps the entry points and runs this
/// code on its own storage through delegatecall. Each Consortium implementation deploys its copy
/// in its constructor. Called directly, it reads its own empty storage and allows nothing.
/// @dev Views only, answering one ABI word (or the validator array) and never reverting for
/// unknown input; calldata after the ABI arguments is ignored (see IBesuPermissioning).
contract BesuPermissioning is ConsortiumState, IBesuPermissioning {
    /// @inheritdoc IBesuPermissioning
    /// @dev Ordered by node id. Besu's ValidatorContractController reads it at every block.
    function getValidators() external view returns (address[] memory validators) {
        validators = new address[](activeValidatorCount);
        uint256 found = 0;
        uint32 count = nodeCount;
        for (uint32 id = 1; id <= count; ++id) {
            NodeIdentity storage n = _nodes[id];
            if (n.registered && n.validator != address(0) && _orgs[n.orgId].status == IConsortium.OrgStatus.Active) {
                validators[found++] = n.validator;
            }
        }
    }

    /// @inheritdoc IBesuPermissioning
    /// @dev Besu (NodeSmartContractV2PermissioningController) sends the node id as lowercase hex
    /// without 0x; case and a 0x prefix are tolerated too. Host and port are not compared: Besu asks
    /// again with the DNS name, and members move nodes behind NAT; the node key identifies them.
    function connectionAllowed(string calldata enodeId, string calldata, uint16) external view returns (bool) {
        NodeIdentity storage n = _nodes[nodeOfEnode(enodeId)];
        return n.registered && _orgs[n.orgId].status == IConsortium.OrgStatus.Active;
    }

    /// @inheritdoc IBesuPermissioning
    /// @dev An active organisation's current account may transact, to any target (contract
    /// creation included, target 0), at any gas price, with a gas limit up to maxTransactionGas
    /// when the consortium set one. Free gas lets any member fill blocks; the bound a view can
    /// enforce is per transaction (Besu evaluates this by eth_call, which cannot count an
    /// account's transactions). Besu's per-sender pool limits bound how many it queues.
    function transactionAllowed(address sender, address, uint256, uint256, uint256 gasLimit, bytes calldata)
        external
        view
        returns (bool)
    {
        uint64 cap = maxTransactionGas;
        return _activeOrgOf(sender) != 0 && (cap == 0 || gasLimit <= cap);
    }

    /// @notice The registered node with this enode id (any accepted spelling), 0 when none; never reverts.
    /// @dev Besu sends the canonical spelling, found with one hash; only other spellings are folded.
    function nodeOfEnode(string calldata enodeId) public view returns (uint32) {
        bytes calldata id = bytes(enodeId);
        if (id.length == 128) {
            // Registered keys hash canonical ids, so a hit is exact.
            uint32 nodeId = _nodeByEnode[keccak256(id)];
            if (nodeId != 0) return nodeId;
        }
        (bytes memory folded, bool ok) = EnodeIds.fold(id);
        return ok ? _nodeByEnode[keccak256(folded)] : 0;
    }
}
