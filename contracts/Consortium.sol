// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IBesuPermissioning} from "./interfaces/IBesuPermissioning.sol";
import {ConsortiumState} from "./base/ConsortiumState.sol";
import {ConsortiumActions} from "./ConsortiumActions.sol";
import {BesuPermissioning} from "./BesuPermissioning.sol";

/// @title Consortium: who is a member, with which roles, accounts and nodes.
/// @notice Founding members are set at deployment; afterwards every change is a proposal that a
/// quorum of active member organisations approves (one vote per organisation). There is no owner.
/// The same membership answers Besu's validator-contract and permissioning interfaces, so one
/// decision gates consensus, node connections, transactions and the application contracts.
/// @dev The proxy's state, events and errors are ConsortiumState's. This contract holds the entry
/// points, the voting engine and the views; what each proposal kind checks and changes is
/// ConsortiumActions' code, and what Besu asks is BesuPermissioning's, both run here by
/// delegatecall (each implementation deploys its own copies in its constructor).
contract Consortium is ConsortiumState, IConsortium, IBesuPermissioning, Initializable, UUPSUpgradeable {
    address private immutable ACTIONS;
    address private immutable BESU_PERMISSIONING;

    // ---------------------------------------------------------------- setup

    /// @custom:oz-upgrades-unsafe-allow constructor state-variable-immutable
    constructor() {
        _disableInitializers();
        ACTIONS = address(new ConsortiumActions());
        BESU_PERMISSIONING = address(new BesuPermissioning());
    }

    /// @notice The ConsortiumActions code this implementation runs for proposals.
    function actions() external view returns (address) {
        return ACTIONS;
    }

    /// @notice The BesuPermissioning code this implementation runs for Besu's calls.
    function besuPermissioning() external view returns (address) {
        return BESU_PERMISSIONING;
    }

    /// @notice Creates the founding organisations and the voting rules. The execution delay
    /// starts at 0 and the transaction gas bound unset: the consortium sets both by proposal.
    /// @param founders the founding members with their roles, accounts and node identities
    /// @param quorumBps_ share of active organisations (basis points) whose approval passes a proposal
    /// @param votingPeriod_ seconds a proposal stays open
    function initialize(FounderInit[] calldata founders, uint16 quorumBps_, uint64 votingPeriod_) external initializer {
        if (founders.length == 0) revert NoFounders();
        _runAction(ProposalKind.SetGovernance, abi.encode(quorumBps_, votingPeriod_), true);
        for (uint256 i = 0; i < founders.length; ++i) {
            FounderInit calldata f = founders[i];
            _runAction(ProposalKind.Admit, abi.encode(f.name, f.roles, f.accounts, f.nodes), true);
        }
    }

    // ---------------------------------------------------------------- governance

    /// @notice Proposes a membership or governance change; the proposing organisation votes yes
    /// (unless the proposal acts against it), which passes it at once when that alone meets the quorum.
    /// @dev The arguments are checked now, so a proposal that could not execute collects no votes;
    /// they are checked again at execution, when the state may have moved on.
    /// @param kind what to change; `data` is the ABI encoding of that kind's arguments (see ProposalKind)
    /// @return proposalId the new proposal's id
    function propose(ProposalKind kind, bytes calldata data) external returns (uint256 proposalId) {
        uint32 orgId = _requireActiveCaller();
        uint32 subject = _runAction(kind, data, false);
        proposalId = ++proposalCount;
        uint64 deadline = uint64(block.timestamp) + votingPeriod;
        _proposals[proposalId] = Proposal(kind, ProposalStatus.Open, orgId, deadline, 0, data);
        if (subject != 0) _schedules[proposalId].subject = subject;
        emit ProposalCreated(proposalId, orgId, kind, data, deadline);
        if (subject == orgId) _settle(proposalId);
        else _castVote(proposalId, orgId, true);
    }

    /// @notice Votes on an open proposal, once per organisation (through any of its accounts). The
    /// vote that reaches the quorum passes the proposal in the same transaction (executes it, or
    /// queues it when its kind waits out the execution delay); the vote that makes approval
    /// impossible rejects it.
    /// @param proposalId the open, unexpired proposal
    /// @param support true to approve
    function vote(uint256 proposalId, bool support) external {
        uint32 orgId = _requireActiveCaller();
        _requireOpen(proposalId);
        if (orgId == _schedules[proposalId].subject) revert SubjectMayNotVote(proposalId, orgId);
        if (_ballotOf(proposalId, orgId) != 0) revert AlreadyVoted(proposalId, orgId);
        _castVote(proposalId, orgId, support);
    }

    /// @notice Executes a queued proposal whose execution delay is over: anyone may, member or not.
    /// Otherwise settles an open proposal whose outcome changed without a vote, because
    /// organisations were suspended, removed or admitted or the quorum changed (members only):
    /// passes it when its approvals meet the quorum now, rejects it when approval has become impossible.
    /// @param proposalId a queued, or an open and unexpired, proposal
    function execute(uint256 proposalId) external {
        Proposal storage p = _proposals[proposalId];
        if (p.status == ProposalStatus.Queued) {
            uint64 executableAt = _schedules[proposalId].executableAt;
            if (block.timestamp < executableAt) revert ExecutionDelayNotOver(proposalId, executableAt);
            _execute(proposalId, p);
            return;
        }
        _requireActiveCaller();
        _requireOpen(proposalId);
        if (!_settle(proposalId)) {
            (uint32 yes,, uint32 required) = tally(proposalId);
            revert QuorumNotReached(proposalId, yes, required);
        }
    }

    /// @notice Objects to a queued proposal (Upgrade, Call, SetExecutionDelay) during its execution
    /// delay: any active organisation but the proposal's subject, once, one that voted for it
    /// included (it changed its mind). The proposal is cancelled (rejected: it never executes) as
    /// soon as its opponents, the active organisations that voted no or objected, are a blocking
    /// minority: as many as could have rejected it by voting no (opponents + required approvals >
    /// voters, with the members and quorum of now). So members who missed the vote still can stop
    /// it, but no single member can unless the quorum gives a single member that power.
    /// @param proposalId a queued proposal whose execution delay is not over
    function object(uint256 proposalId) external {
        uint32 orgId = _requireActiveCaller();
        Proposal storage p = _proposals[proposalId];
        if (p.status == ProposalStatus.None) revert UnknownProposal(proposalId);
        uint64 executableAt = _schedules[proposalId].executableAt;
        if (p.status != ProposalStatus.Queued || block.timestamp >= executableAt) {
            revert NotObjectable(proposalId, p.status, executableAt);
        }
        if (orgId == _schedules[proposalId].subject) revert SubjectMayNotVote(proposalId, orgId);
        if (_ballotOf(proposalId, orgId) == 2 || _hasObjected(proposalId, orgId)) revert AlreadyOpposed(proposalId, orgId);
        _objectors[proposalId].push(orgId);
        emit ProposalObjected(proposalId, orgId);
        (, uint32 no, uint32 required) = tally(proposalId);
        if (uint256(no) + _activeObjectors(proposalId) + required > _voters(proposalId)) {
            p.status = ProposalStatus.Rejected;
            emit ProposalRejected(proposalId);
        }
    }

    /// @notice The organisations that objected to a proposal during its execution delay, in order.
    function objectorsOf(uint256 proposalId) external view returns (uint32[] memory) {
        return _objectors[proposalId];
    }

    /// @notice Ballots of organisations that are active now, and the approvals needed now: the
    /// quorum share of the active organisations, less the proposal's subject. A suspended or
    /// removed organisation's ballot does not count (again if it is reinstated).
    /// @return yes approvals, no refusals, required approvals needed to pass
    function tally(uint256 proposalId) public view returns (uint32 yes, uint32 no, uint32 required) {
        mapping(uint256 => uint256) storage words = _ballots[proposalId];
        uint256 n = _proposals[proposalId].ballotCount;
        uint256 word;
        for (uint256 i = 0; i < n; ++i) {
            if (i % BALLOTS_PER_WORD == 0) word = words[i / BALLOTS_PER_WORD];
            uint256 b = (word >> ((i % BALLOTS_PER_WORD) * BALLOT_BITS)) & BALLOT_MASK;
            if (_orgs[uint32(b >> 1)].status != OrgStatus.Active) continue;
            if (b & 1 == 1) ++yes;
            else ++no;
        }
        required = _requiredOf(_voters(proposalId));
    }

    /// @notice Approvals a proposal with no subject needs now: the quorum share of active
    /// organisations, rounded up.
    function requiredVotes() public view returns (uint32) {
        return _requiredOf(activeOrgCount);
    }

    /// @notice A proposal as stored; `status` reads Expired for an open proposal past its deadline.
    function proposal(uint256 proposalId)
        external
        view
        returns (ProposalKind kind, ProposalStatus status, uint32 proposer, uint64 deadline, bytes memory data)
    {
        Proposal storage p = _proposals[proposalId];
        if (p.status == ProposalStatus.None) revert UnknownProposal(proposalId);
        status = p.status == ProposalStatus.Open && block.timestamp > p.deadline ? ProposalStatus.Expired : p.status;
        return (p.kind, status, p.proposer, p.deadline, p.data);
    }

    /// @notice The organisation a proposal acts against (0 when none), which does not vote on it,
    /// and, once queued, the first second it may execute (0 before).
    function proposalSchedule(uint256 proposalId) external view returns (uint32 subject, uint64 executableAt) {
        ProposalSchedule storage s = _schedules[proposalId];
        return (s.subject, s.executableAt);
    }

    /// @notice An organisation's ballot on a proposal, whatever the organisation's status now.
    /// @return 0 none, 1 yes, 2 no
    function ballotOf(uint256 proposalId, uint32 orgId) external view returns (uint8) {
        return _ballotOf(proposalId, orgId);
    }

    // ---------------------------------------------------------------- IConsortium views

    /// @inheritdoc IConsortium
    function isActiveMember(address account) external view returns (bool) {
        return _activeOrgOf(account) != 0;
    }

    /// @inheritdoc IConsortium
    /// @dev A retired account signs for nobody and answers 0 (it stays reserved: see accountRecord).
    function orgOf(address account) external view returns (uint32) {
        AccountRecord storage a = _accounts[account];
        return a.retired ? 0 : a.orgId;
    }

    /// @inheritdoc IConsortium
    function activeOrgOf(address account) external view returns (uint32 orgId, uint256 roles) {
        orgId = _activeOrgOf(account);
        if (orgId != 0) roles = _orgs[orgId].roles;
    }

    /// @inheritdoc IConsortium
    function isActiveOrg(uint32 orgId) public view returns (bool) {
        return _orgs[orgId].status == OrgStatus.Active;
    }

    /// @inheritdoc IConsortium
    function hasRole(uint32 orgId, Role role) external view returns (bool) {
        return _orgs[orgId].roles & (uint256(1) << uint8(role)) != 0;
    }

    /// @inheritdoc IConsortium
    function isMemberPeer(string calldata peerId) external view returns (bool) {
        return isActiveOrg(_nodes[_nodeByPeer[keccak256(bytes(peerId))]].orgId);
    }

    /// @inheritdoc IConsortium
    function orgOfPeer(string calldata peerId) external view returns (uint32) {
        return _nodes[_nodeByPeer[keccak256(bytes(peerId))]].orgId;
    }

    // ---------------------------------------------------------------- directory views

    /// @notice An organisation's name, status and role mask.
    function org(uint32 orgId) external view returns (string memory name, OrgStatus status, uint256 roles) {
        Org storage o = _orgs[orgId];
        if (o.status == OrgStatus.None) revert UnknownOrg(orgId);
        return (o.name, o.status, o.roles);
    }

    /// @notice The organisation an account was ever bound to, and whether it was retired from it.
    /// Accounts are never handed to another organisation, retired or not.
    function accountRecord(address account) external view returns (uint32 orgId, bool retired) {
        AccountRecord storage a = _accounts[account];
        return (a.orgId, a.retired);
    }

    /// @notice An organisation's current signing accounts (retired ones excluded).
    function accountsOf(uint32 orgId) external view returns (address[] memory) {
        return _orgAccounts[orgId];
    }

    /// @notice Ids of an organisation's registered nodes.
    function nodesOf(uint32 orgId) external view returns (uint32[] memory) {
        return _orgNodes[orgId];
    }

    /// @notice A node identity, registered or removed (`registered` false).
    function node(uint32 nodeId) external view returns (NodeIdentity memory) {
        NodeIdentity storage n = _nodes[nodeId];
        if (n.orgId == 0) revert UnknownNode(nodeId);
        return n;
    }

    /// @notice The registered node with this enode id (any accepted spelling), 0 when none.
    function nodeOfEnode(string calldata) external view returns (uint32 nodeId) {
        _forwardToBesu();
        return nodeId; // not reached: the forward returns BesuPermissioning's answer
    }

    // ---------------------------------------------------------------- Besu interfaces

    /// @inheritdoc IBesuPermissioning
    function getValidators() external view returns (address[] memory validators) {
        _forwardToBesu();
        return validators;
    }

    /// @inheritdoc IBesuPermissioning
    function connectionAllowed(string calldata, string calldata, uint16) external view returns (bool allowed) {
        _forwardToBesu();
        return allowed;
    }

    /// @inheritdoc IBesuPermissioning
    function transactionAllowed(address, address, uint256, uint256, uint256, bytes calldata)
        external
        view
        returns (bool allowed)
    {
        _forwardToBesu();
        return allowed;
    }

    /// @dev Answers the current call with BesuPermissioning's answer to the same calldata (trailing
    /// bytes included), run on this contract's storage. Its functions are views, so running them
    /// from a view is sound; the compiler cannot see through delegatecall, hence the cast.
    function _forwardToBesu() private view {
        _asView(_delegateToBesu)();
    }

    function _delegateToBesu() private {
        address code = BESU_PERMISSIONING;
        // solhint-disable-next-line no-inline-assembly
        assembly {
            calldatacopy(0, 0, calldatasize())
            let ok := delegatecall(gas(), code, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(ok) { revert(0, returndatasize()) }
            return(0, returndatasize())
        }
    }

    function _asView(function() internal f) private pure returns (function() internal view g) {
        // solhint-disable-next-line no-inline-assembly
        assembly {
            g := f
        }
    }

    // ---------------------------------------------------------------- internals: voting

    function _castVote(uint256 proposalId, uint32 orgId, bool support) private {
        Proposal storage p = _proposals[proposalId];
        uint256 i = p.ballotCount++;
        uint256 ballot = (uint256(orgId) << 1) | (support ? 1 : 0);
        _ballots[proposalId][i / BALLOTS_PER_WORD] |= ballot << ((i % BALLOTS_PER_WORD) * BALLOT_BITS);
        emit VoteCast(proposalId, orgId, support);
        _settle(proposalId);
    }

    /// @dev Passes or rejects the proposal when its outcome is decided; false when still open.
    /// Upgrade, Call and SetExecutionDelay are queued, never executed in the deciding
    /// transaction: members get executionDelay to react (leave, or stop their nodes) first.
    function _settle(uint256 proposalId) private returns (bool) {
        (uint32 yes, uint32 no, uint32 required) = tally(proposalId);
        Proposal storage p = _proposals[proposalId];
        if (yes >= required) {
            ProposalKind kind = p.kind;
            if (kind == ProposalKind.Upgrade || kind == ProposalKind.Call || kind == ProposalKind.SetExecutionDelay) {
                // Checked now too, so a proposal that could no longer execute is not queued.
                _runAction(kind, p.data, false);
                uint64 executableAt = uint64(block.timestamp) + executionDelay;
                p.status = ProposalStatus.Queued;
                _schedules[proposalId].executableAt = executableAt;
                emit ProposalQueued(proposalId, executableAt);
            } else {
                _execute(proposalId, p);
            }
            return true;
        }
        // Voters that have not voted yet could still add `voters - yes - no` approvals.
        if (uint256(no) + required > _voters(proposalId)) {
            p.status = ProposalStatus.Rejected;
            emit ProposalRejected(proposalId);
            return true;
        }
        return false;
    }

    /// @dev Re-checks and applies a passed proposal. A failed check reverts the transaction, so the
    /// proposal stays open (or queued) for a later attempt.
    function _execute(uint256 proposalId, Proposal storage p) private {
        // Marked before acting, so that an upgrade's or call's external call cannot re-enter it.
        p.status = ProposalStatus.Executed;
        ProposalKind kind = p.kind;
        _runAction(kind, p.data, true);
        emit ProposalExecuted(proposalId, kind);
    }

    /// @dev Active organisations that may vote on the proposal: all but its subject.
    function _voters(uint256 proposalId) private view returns (uint32) {
        uint32 subject = _schedules[proposalId].subject;
        return subject != 0 && _orgs[subject].status == OrgStatus.Active ? activeOrgCount - 1 : activeOrgCount;
    }

    function _requiredOf(uint32 voters) private view returns (uint32) {
        uint256 r = (uint256(voters) * quorumBps + MAX_BPS - 1) / MAX_BPS;
        return r == 0 ? 1 : uint32(r);
    }

    function _ballotOf(uint256 proposalId, uint32 orgId) private view returns (uint8) {
        mapping(uint256 => uint256) storage words = _ballots[proposalId];
        uint256 n = _proposals[proposalId].ballotCount;
        uint256 word;
        for (uint256 i = 0; i < n; ++i) {
            if (i % BALLOTS_PER_WORD == 0) word = words[i / BALLOTS_PER_WORD];
            uint256 b = (word >> ((i % BALLOTS_PER_WORD) * BALLOT_BITS)) & BALLOT_MASK;
            if (uint32(b >> 1) == orgId) return b & 1 == 1 ? 1 : 2;
        }
        return 0;
    }

    function _hasObjected(uint256 proposalId, uint32 orgId) private view returns (bool) {
        uint32[] storage list = _objectors[proposalId];
        for (uint256 i = 0; i < list.length; ++i) if (list[i] == orgId) return true;
        return false;
    }

    /// @dev Objectors that are active now (none of them voted no: see `object`).
    function _activeObjectors(uint256 proposalId) private view returns (uint256 count) {
        uint32[] storage list = _objectors[proposalId];
        for (uint256 i = 0; i < list.length; ++i) if (_orgs[list[i]].status == OrgStatus.Active) ++count;
    }

    function _requireOpen(uint256 proposalId) private view {
        Proposal storage p = _proposals[proposalId];
        ProposalStatus s = p.status;
        if (s == ProposalStatus.None) revert UnknownProposal(proposalId);
        if (s != ProposalStatus.Open) revert ProposalNotOpen(proposalId, s);
        if (block.timestamp > p.deadline) revert ProposalNotOpen(proposalId, ProposalStatus.Expired);
    }

    function _requireActiveCaller() private view returns (uint32 orgId) {
        orgId = _activeOrgOf(msg.sender);
        if (orgId == 0) revert NotActiveMember(msg.sender);
    }

    // ---------------------------------------------------------------- internals: actions

    /// @dev Checks a proposal's arguments and, when `execute`, applies them (ConsortiumActions.run
    /// on this storage); reverts with the action's own error.
    /// @return subject the organisation the proposal acts against, 0 when none
    function _runAction(ProposalKind kind, bytes memory data, bool execute_) private returns (uint32 subject) {
        // solhint-disable-next-line avoid-low-level-calls
        (bool ok, bytes memory answer) = ACTIONS.delegatecall(abi.encodeCall(ConsortiumActions.run, (kind, data, execute_)));
        if (!ok) {
            // solhint-disable-next-line no-inline-assembly
            assembly {
                revert(add(answer, 32), mload(answer))
            }
        }
        return abi.decode(answer, (uint32));
    }

    /// @dev Only a passed Upgrade proposal, which calls upgradeToAndCall from this contract itself.
    function _authorizeUpgrade(address) internal view override {
        if (msg.sender != address(this)) revert UpgradeNotByGovernance(msg.sender);
    }
}
