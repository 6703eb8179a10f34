// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IERC1822Proxiable} from "@openzeppelin/contracts/interfaces/draft-IERC1822.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {ConsortiumBound} from "./base/ConsortiumBound.sol";
import {ConsortiumState} from "./base/ConsortiumState.sol";
import {EnodeIds} from "./libraries/EnodeIds.sol";

/// @title What each governance proposal kind checks and changes.
/// @notice Run by Consortium through delegatecall, on the Consortium proxy's storage: each
/// Consortium implementation deploys its copy in its constructor. Kept apart so that Consortium
/// (entry points, voting, views) stays far below the 24 KiB code limit as actions are added.
/// @dev One action per ProposalKind, `_<kind>Action(data, execute)`: it checks the arguments
/// against the current state (reverting with the reason), applies them when `execute`, and
/// returns the organisation the proposal acts against (0 when none), which does not vote on it.
/// A new governance action is a new ProposalKind, its action, and its entry in `_action`.
contract ConsortiumActions is ConsortiumState {
    using EnodeIds for bytes;

    address private immutable SELF;

    /// @dev Called directly instead of through Consortium's delegatecall.
    error NotDelegated();

    constructor() {
        SELF = address(this);
    }

    /// @notice Checks a proposal's arguments and, when `execute`, applies them.
    /// @return subject the organisation the proposal acts against, 0 when none
    function run(ProposalKind kind, bytes calldata data, bool execute) external returns (uint32 subject) {
        // On its own storage the code would change nothing that matters, but it must not act as
        // anyone: only as the Consortium proxy.
        if (address(this) == SELF) revert NotDelegated();
        return _action(kind)(data, execute);
    }

    /// @dev The action of each proposal kind, in ProposalKind order.
    function _action(ProposalKind kind) private pure returns (function(bytes memory, bool) returns (uint32)) {
        function(bytes memory, bool) returns (uint32)[16] memory actions = [
            _admitAction,
            _suspendAction,
            _reinstateAction,
            _removeAction,
            _grantRoleAction,
            _revokeRoleAction,
            _addAccountAction,
            _removeAccountAction,
            _addNodeAction,
            _removeNodeAction,
            _setGovernanceAction,
            _upgradeAction,
            _setExecutionDelayAction,
            _setGovernedAction,
            _callAction,
            _setTransactionGasLimitAction
        ];
        return actions[uint8(kind)];
    }

    function _admitAction(bytes memory data, bool execute_) private returns (uint32) {
        (string memory name, uint256 roles, address[] memory accounts, NodeInit[] memory nodes) =
            abi.decode(data, (string, uint256, address[], NodeInit[]));
        _checkNewOrg(name, roles, accounts, nodes);
        if (execute_) _admit(name, roles, accounts, nodes);
        return 0;
    }

    /// @dev The subject: a member under unanimity must not be able to veto its own suspension.
    function _suspendAction(bytes memory data, bool execute_) private returns (uint32 orgId) {
        orgId = abi.decode(data, (uint32));
        _requireStatus(orgId, IConsortium.OrgStatus.Active);
        _checkDeactivation(orgId);
        if (execute_) _setStatus(orgId, IConsortium.OrgStatus.Suspended);
    }

    function _reinstateAction(bytes memory data, bool execute_) private returns (uint32) {
        uint32 orgId = abi.decode(data, (uint32));
        _requireStatus(orgId, IConsortium.OrgStatus.Suspended);
        if (execute_) _setStatus(orgId, IConsortium.OrgStatus.Active);
        return 0;
    }

    function _removeAction(bytes memory data, bool execute_) private returns (uint32 orgId) {
        orgId = abi.decode(data, (uint32));
        _requireNotGone(orgId);
        if (_orgs[orgId].status == IConsortium.OrgStatus.Active) _checkDeactivation(orgId);
        if (execute_) _setStatus(orgId, IConsortium.OrgStatus.Removed);
    }

    function _grantRoleAction(bytes memory data, bool execute_) private returns (uint32) {
        (uint32 orgId, IConsortium.Role role, bool held) = _roleChange(data);
        if (held) revert RoleAlreadyHeld(orgId, role);
        if (execute_) {
            _orgs[orgId].roles |= _bit(role);
            emit RoleGranted(orgId, role);
        }
        return 0;
    }

    function _revokeRoleAction(bytes memory data, bool execute_) private returns (uint32 orgId) {
        IConsortium.Role role;
        bool held;
        (orgId, role, held) = _roleChange(data);
        if (!held) revert RoleNotHeld(orgId, role);
        if (execute_) {
            _orgs[orgId].roles &= ~_bit(role);
            emit RoleRevoked(orgId, role);
        }
    }

    function _addAccountAction(bytes memory data, bool execute_) private returns (uint32) {
        (uint32 orgId, address account) = abi.decode(data, (uint32, address));
        _requireNotGone(orgId);
        _checkFreeAccount(account);
        if (execute_) _addAccount(orgId, account);
        return 0;
    }

    function _removeAccountAction(bytes memory data, bool execute_) private returns (uint32) {
        (uint32 orgId, address account) = abi.decode(data, (uint32, address));
        _requireNotGone(orgId);
        AccountRecord storage a = _accounts[account];
        if (a.orgId != orgId || a.retired) revert AccountNotInOrg(account, orgId);
        if (_orgAccounts[orgId].length == 1) revert LastAccount(orgId);
        if (execute_) _retireAccount(orgId, account);
        return 0;
    }

    function _addNodeAction(bytes memory data, bool execute_) private returns (uint32) {
        (uint32 orgId, NodeInit memory n) = abi.decode(data, (uint32, NodeInit));
        _requireNotGone(orgId);
        _checkNewNode(n);
        if (execute_) _addNode(orgId, n);
        return 0;
    }

    function _removeNodeAction(bytes memory data, bool execute_) private returns (uint32) {
        uint32 nodeId = abi.decode(data, (uint32));
        NodeIdentity storage n = _nodes[nodeId];
        if (!n.registered) revert UnknownNode(nodeId);
        if (n.validator != address(0) && _orgs[n.orgId].status == IConsortium.OrgStatus.Active && activeValidatorCount == 1) {
            revert LastValidators(n.orgId);
        }
        if (execute_) _removeNode(nodeId);
        return 0;
    }

    function _setGovernanceAction(bytes memory data, bool execute_) private returns (uint32) {
        (uint16 q, uint64 period) = abi.decode(data, (uint16, uint64));
        _checkGovernance(q, period);
        if (execute_) _setGovernance(q, period);
        return 0;
    }

    /// @dev The target must be this contract or an allow-listed proxy, and the implementation a
    /// UUPS one, so a wrong address fails at propose time, not after votes.
    function _upgradeAction(bytes memory data, bool execute_) private returns (uint32) {
        (address target, address impl, bytes memory initCall) = abi.decode(data, (address, address, bytes));
        _requireGoverned(target);
        if (impl.code.length == 0) revert NotAContract(impl);
        try IERC1822Proxiable(impl).proxiableUUID() returns (bytes32 slot) {
            if (slot != ERC1967Utils.IMPLEMENTATION_SLOT) revert NotUUPSImplementation(impl);
        } catch {
            revert NotUUPSImplementation(impl);
        }
        // An external call, so that the target (this contract too) sees Consortium as msg.sender.
        if (execute_) UUPSUpgradeable(target).upgradeToAndCall(impl, initCall);
        return 0;
    }

    function _setExecutionDelayAction(bytes memory data, bool execute_) private returns (uint32) {
        uint64 delay = abi.decode(data, (uint64));
        if (delay > MAX_EXECUTION_DELAY) revert InvalidExecutionDelay(delay);
        if (execute_) {
            executionDelay = delay;
            emit ExecutionDelayChanged(delay);
        }
        return 0;
    }

    /// @dev A proxy joins the allow-list only if it names this Consortium as its governor
    /// (ConsortiumBound), so a mistyped address fails before the vote.
    function _setGovernedAction(bytes memory data, bool execute_) private returns (uint32) {
        (address[] memory targets, bool governed) = abi.decode(data, (address[], bool));
        for (uint256 i = 0; i < targets.length; ++i) {
            address target = targets[i];
            if (governed) {
                if (target.code.length == 0) revert NotAContract(target);
                if (target == address(this)) revert NotGovernedHere(target);
                try ConsortiumBound(target).consortium() returns (IConsortium governor) {
                    if (address(governor) != address(this)) revert NotGovernedHere(target);
                } catch {
                    revert NotGovernedHere(target);
                }
            }
            if (execute_) {
                isGoverned[target] = governed;
                emit GovernedChanged(target, governed);
            }
        }
        return 0;
    }

    /// @dev Calls an allow-listed proxy as the consortium (its `onlyConsortium` setters); the
    /// callee's revert is the execution's revert.
    function _callAction(bytes memory data, bool execute_) private returns (uint32) {
        (address target, bytes memory callData) = abi.decode(data, (address, bytes));
        if (target == address(this) || !isGoverned[target]) revert NotGovernedHere(target);
        if (callData.length >= 4 && bytes4(callData) == UUPSUpgradeable.upgradeToAndCall.selector) {
            revert UpgradeThroughCall(target);
        }
        if (execute_) {
            // solhint-disable-next-line avoid-low-level-calls
            (bool ok, bytes memory answer) = target.call(callData);
            if (!ok) {
                // solhint-disable-next-line no-inline-assembly
                assembly {
                    revert(add(answer, 32), mload(answer))
                }
            }
        }
        return 0;
    }

    function _setTransactionGasLimitAction(bytes memory data, bool execute_) private returns (uint32) {
        uint64 gasLimit = abi.decode(data, (uint64));
        if (gasLimit != 0 && gasLimit < MIN_TRANSACTION_GAS) revert InvalidTransactionGasLimit(gasLimit);
        if (execute_) {
            maxTransactionGas = gasLimit;
            emit TransactionGasLimitChanged(gasLimit);
        }
        return 0;
    }


    // ---------------------------------------------------------------- internals: checks

    function _roleChange(bytes memory data) private view returns (uint32 orgId, IConsortium.Role role, bool held) {
        uint8 r;
        (orgId, r) = abi.decode(data, (uint32, uint8));
        _requireNotGone(orgId);
        if (r > uint8(type(IConsortium.Role).max)) revert UnknownRole(r);
        role = IConsortium.Role(r);
        held = _orgs[orgId].roles & _bit(role) != 0;
    }

    function _requireGoverned(address target) private view {
        if (target.code.length == 0) revert NotAContract(target);
        if (target != address(this) && !isGoverned[target]) revert NotGovernedHere(target);
    }

    function _checkNewOrg(string memory name, uint256 roles, address[] memory accounts, NodeInit[] memory nodes)
        private
        view
    {
        if (bytes(name).length == 0) revert EmptyName();
        if (roles == 0 || roles & ~ROLE_MASK != 0) revert InvalidRoles(roles);
        if (accounts.length == 0) revert NoAccounts();
        for (uint256 i = 0; i < accounts.length; ++i) {
            _checkFreeAccount(accounts[i]);
            for (uint256 j = 0; j < i; ++j) {
                if (accounts[j] == accounts[i]) revert AccountTaken(accounts[i], 0);
            }
        }
        for (uint256 i = 0; i < nodes.length; ++i) {
            _checkNewNode(nodes[i]);
            // Identities repeated within the request are as taken as registered ones.
            for (uint256 j = 0; j < i; ++j) {
                if (keccak256(bytes(nodes[j].peerId)) == keccak256(bytes(nodes[i].peerId))) {
                    revert PeerIdTaken(nodes[i].peerId);
                }
                bytes memory enode = bytes(nodes[i].enodeId);
                if (enode.length != 0 && keccak256(bytes(nodes[j].enodeId)) == keccak256(enode)) {
                    revert EnodeTaken(nodes[i].enodeId);
                }
                if (nodes[i].validator != address(0) && nodes[j].validator == nodes[i].validator) {
                    revert ValidatorTaken(nodes[i].validator);
                }
            }
        }
    }

    function _checkFreeAccount(address account) private view {
        if (account == address(0)) revert ZeroAddress();
        uint32 owner = _accounts[account].orgId;
        if (owner != 0) revert AccountTaken(account, owner);
    }

    function _checkNewNode(NodeInit memory n) private view {
        if (bytes(n.peerId).length == 0) revert EmptyPeerId();
        if (_nodeByPeer[keccak256(bytes(n.peerId))] != 0) revert PeerIdTaken(n.peerId);
        if (bytes(n.enodeId).length != 0) {
            // Registered only in the form Besu sends, so the stored id is the one it will ask about.
            if (!bytes(n.enodeId).isCanonical()) revert InvalidEnodeId(n.enodeId);
            if (_nodeByEnode[keccak256(bytes(n.enodeId))] != 0) revert EnodeTaken(n.enodeId);
        }
        if (n.validator != address(0) && _nodeByValidator[n.validator] != 0) revert ValidatorTaken(n.validator);
    }

    function _checkGovernance(uint16 q, uint64 period) private pure {
        if (q < MIN_QUORUM_BPS || q > MAX_BPS) revert InvalidQuorum(q);
        if (period < MIN_VOTING_PERIOD || period > MAX_VOTING_PERIOD) revert InvalidVotingPeriod(period);
    }

    /// @dev An active organisation may leave the active set unless it is the last one, or its
    /// validators are the last ones.
    function _checkDeactivation(uint32 orgId) private view {
        if (activeOrgCount == 1) revert LastActiveOrg(orgId);
        uint32 v = _orgs[orgId].validatorCount;
        if (v != 0 && v == activeValidatorCount) revert LastValidators(orgId);
    }

    function _requireStatus(uint32 orgId, IConsortium.OrgStatus expected) private view {
        IConsortium.OrgStatus s = _orgs[orgId].status;
        if (s == IConsortium.OrgStatus.None) revert UnknownOrg(orgId);
        if (s != expected) revert WrongOrgStatus(orgId, s);
    }

    function _requireNotGone(uint32 orgId) private view {
        IConsortium.OrgStatus s = _orgs[orgId].status;
        if (s == IConsortium.OrgStatus.None) revert UnknownOrg(orgId);
        if (s == IConsortium.OrgStatus.Removed) revert WrongOrgStatus(orgId, s);
    }

    function _bit(IConsortium.Role role) private pure returns (uint256) {
        return uint256(1) << uint8(role);
    }

    // ---------------------------------------------------------------- internals: state changes

    function _admit(string memory name, uint256 roles, address[] memory accounts, NodeInit[] memory nodes)
        private
        returns (uint32 orgId)
    {
        orgId = ++orgCount;
        Org storage o = _orgs[orgId];
        o.status = IConsortium.OrgStatus.Active;
        o.roles = roles;
        o.name = name;
        ++activeOrgCount;
        emit OrgAdmitted(orgId, name, roles);
        for (uint256 i = 0; i < accounts.length; ++i) {
            _addAccount(orgId, accounts[i]);
        }
        for (uint256 i = 0; i < nodes.length; ++i) {
            _addNode(orgId, nodes[i]);
        }
    }

    function _setStatus(uint32 orgId, IConsortium.OrgStatus status) private {
        Org storage o = _orgs[orgId];
        if (o.status == IConsortium.OrgStatus.Active) {
            --activeOrgCount;
            activeValidatorCount -= o.validatorCount;
        }
        if (status == IConsortium.OrgStatus.Active) {
            ++activeOrgCount;
            activeValidatorCount += o.validatorCount;
        }
        o.status = status;
        emit OrgStatusChanged(orgId, status);
    }

    function _addAccount(uint32 orgId, address account) private {
        _accounts[account] = AccountRecord(orgId, false);
        _orgAccounts[orgId].push(account);
        emit AccountAdded(orgId, account);
    }

    function _retireAccount(uint32 orgId, address account) private {
        address[] storage list = _orgAccounts[orgId];
        uint256 last = list.length - 1;
        for (uint256 i = 0; i <= last; ++i) {
            if (list[i] == account) {
                list[i] = list[last];
                list.pop();
                break;
            }
        }
        // Retired, not freed: a key that signed for one organisation never signs for another.
        _accounts[account].retired = true;
        emit AccountRemoved(orgId, account);
    }

    function _addNode(uint32 orgId, NodeInit memory n) private {
        uint32 nodeId = ++nodeCount;
        _nodes[nodeId] = NodeIdentity(orgId, true, n.enodePort, n.validator, n.peerId, n.enodeId, n.enodeHost);
        _orgNodes[orgId].push(nodeId);
        _nodeByPeer[keccak256(bytes(n.peerId))] = nodeId;
        if (bytes(n.enodeId).length != 0) _nodeByEnode[keccak256(bytes(n.enodeId))] = nodeId;
        if (n.validator != address(0)) {
            _nodeByValidator[n.validator] = nodeId;
            Org storage o = _orgs[orgId];
            ++o.validatorCount;
            if (o.status == IConsortium.OrgStatus.Active) ++activeValidatorCount;
        }
        emit NodeAdded(orgId, nodeId, n.peerId, n.enodeId, n.enodeHost, n.enodePort, n.validator);
    }

    /// @dev The node's identities are released: only its own organisation holds the node key, so
    /// re-registering it (say after a mistake) needs that organisation's key and a new proposal.
    function _removeNode(uint32 nodeId) private {
        NodeIdentity storage n = _nodes[nodeId];
        uint32 orgId = n.orgId;
        n.registered = false;
        delete _nodeByPeer[keccak256(bytes(n.peerId))];
        if (bytes(n.enodeId).length != 0) delete _nodeByEnode[keccak256(bytes(n.enodeId))];
        if (n.validator != address(0)) {
            delete _nodeByValidator[n.validator];
            Org storage o = _orgs[orgId];
            --o.validatorCount;
            if (o.status == IConsortium.OrgStatus.Active) --activeValidatorCount;
        }
        uint32[] storage list = _orgNodes[orgId];
        uint256 last = list.length - 1;
        for (uint256 i = 0; i <= last; ++i) {
            if (list[i] == nodeId) {
                list[i] = list[last];
                list.pop();
                break;
            }
        }
        emit NodeRemoved(orgId, nodeId, n.peerId);
    }

    function _setGovernance(uint16 q, uint64 period) private {
        quorumBps = q;
        votingPeriod = period;
        emit GovernanceChanged(q, period);
    }
}
