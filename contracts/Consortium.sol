// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IBesuPermissioning} from "./interfaces/IBesuPermissioning.sol";

/// @title Consortium: who is a member, with which roles, accounts and nodes.
/// @notice Founding members are set at deployment; afterwards every change is a proposal that a
/// quorum of active member organisations approves (one vote per organisation). There is no owner.
/// The same membership answers Besu's validator-contract and permissioning interfaces, so one
/// decision gates consensus, node connections, transactions and the application contracts.
contract Consortium is IConsortium, IBesuPermissioning, Initializable, UUPSUpgradeable {
    // ---------------------------------------------------------------- types

    enum ProposalKind {
        Admit, // (string name, uint256 roles, address[] accounts)
        Suspend, // (uint32 orgId)
        Reinstate, // (uint32 orgId)
        Remove, // (uint32 orgId)
        GrantRole, // (uint32 orgId, uint8 role)
        RevokeRole, // (uint32 orgId, uint8 role)
        AddAccount, // (uint32 orgId, address account)
        RemoveAccount, // (uint32 orgId, address account)
        AddNode, // (uint32 orgId, NodeInit node)
        RemoveNode, // (uint32 nodeId)
        SetGovernance, // (uint16 quorumBps, uint64 votingPeriod)
        Upgrade // (address target, address newImplementation, bytes initCall)
    }

    enum ProposalStatus {
        None,
        Open,
        Executed,
        Rejected,
        Expired
    }

    struct NodeInit {
        string peerId; // libp2p peer id (base58btc or CID form, as libp2p prints it)
        string enodeId; // Besu node public key, 128 hex characters, no 0x ("" when none)
        string enodeHost;
        uint16 enodePort;
        address validator; // QBFT validator address (0 when the node does not validate)
    }

    struct FounderInit {
        string name;
        uint256 roles; // bit mask of IConsortium.Role
        address[] accounts;
        NodeInit[] nodes;
    }

    struct Org {
        string name;
        OrgStatus status;
        uint256 roles;
    }

    struct NodeIdentity {
        uint32 orgId;
        bool registered;
        uint16 enodePort;
        address validator;
        string peerId;
        string enodeId;
        string enodeHost;
    }

    struct Proposal {
        ProposalKind kind;
        ProposalStatus status;
        uint32 proposer;
        uint64 deadline;
        bytes data;
    }

    // ---------------------------------------------------------------- storage

    uint256 private constant ROLE_MASK = (uint256(1) << (uint8(type(Role).max) + 1)) - 1;
    uint16 public constant MAX_BPS = 10_000;
    uint64 public constant MIN_VOTING_PERIOD = 5 minutes;
    uint64 public constant MAX_VOTING_PERIOD = 90 days;

    uint16 public quorumBps;
    uint64 public votingPeriod;
    uint32 public orgCount;
    uint32 public activeOrgCount;
    uint32 public nodeCount;
    uint256 public proposalCount;

    mapping(uint32 orgId => Org) private _orgs;
    mapping(address account => uint32 orgId) private _accountOrg;
    mapping(uint32 orgId => address[]) private _orgAccounts;
    mapping(uint32 nodeId => NodeIdentity) private _nodes;
    mapping(uint32 orgId => uint32[]) private _orgNodes;
    mapping(bytes32 peerIdHash => uint32 nodeId) private _nodeByPeer;
    mapping(bytes32 enodeIdHash => uint32 nodeId) private _nodeByEnode;
    mapping(address validator => uint32 nodeId) private _nodeByValidator;
    mapping(uint256 proposalId => Proposal) private _proposals;
    mapping(uint256 proposalId => uint32[]) private _voters;
    /// @dev 0 = not voted, 1 = yes, 2 = no
    mapping(uint256 proposalId => mapping(uint32 orgId => uint8)) private _ballots;

    // ---------------------------------------------------------------- events

    event OrgAdmitted(uint32 indexed orgId, string name, uint256 roles);
    event OrgStatusChanged(uint32 indexed orgId, OrgStatus status);
    event RoleGranted(uint32 indexed orgId, Role indexed role);
    event RoleRevoked(uint32 indexed orgId, Role indexed role);
    event AccountAdded(uint32 indexed orgId, address indexed account);
    event AccountRemoved(uint32 indexed orgId, address indexed account);
    event NodeAdded(
        uint32 indexed orgId,
        uint32 indexed nodeId,
        string peerId,
        string enodeId,
        string enodeHost,
        uint16 enodePort,
        address validator
    );
    event NodeRemoved(uint32 indexed orgId, uint32 indexed nodeId, string peerId);
    event GovernanceChanged(uint16 quorumBps, uint64 votingPeriod);
    event ProposalCreated(
        uint256 indexed proposalId,
        uint32 indexed proposer,
        ProposalKind indexed kind,
        bytes data,
        uint64 deadline
    );
    event VoteCast(uint256 indexed proposalId, uint32 indexed orgId, bool support);
    event ProposalExecuted(uint256 indexed proposalId, ProposalKind indexed kind);
    event ProposalRejected(uint256 indexed proposalId);

    // ---------------------------------------------------------------- errors

    error NoFounders();
    error InvalidQuorum(uint16 quorumBps);
    error InvalidVotingPeriod(uint64 votingPeriod);
    error EmptyName();
    error InvalidRoles(uint256 roles);
    error NoAccounts();
    error ZeroAddress();
    error AccountTaken(address account, uint32 orgId);
    error UnknownOrg(uint32 orgId);
    error WrongOrgStatus(uint32 orgId, OrgStatus status);
    error LastActiveOrg(uint32 orgId);
    error RoleAlreadyHeld(uint32 orgId, Role role);
    error RoleNotHeld(uint32 orgId, Role role);
    error UnknownRole(uint8 role);
    error AccountNotInOrg(address account, uint32 orgId);
    error LastAccount(uint32 orgId);
    error EmptyPeerId();
    error PeerIdTaken(string peerId);
    error InvalidEnodeId(string enodeId);
    error EnodeTaken(string enodeId);
    error ValidatorTaken(address validator);
    error UnknownNode(uint32 nodeId);
    error NotActiveMember(address account);
    error UnknownProposal(uint256 proposalId);
    error ProposalNotOpen(uint256 proposalId, ProposalStatus status);
    error AlreadyVoted(uint256 proposalId, uint32 orgId);
    error NotAContract(address target);
    error UpgradeNotByGovernance(address caller);

    // ---------------------------------------------------------------- setup

    /// @custom:oz-upgrades-unsafe-allow constructor
    constructor() {
        _disableInitializers();
    }

    /// @notice Creates the founding organisations and the voting rules.
    /// @param founders the founding members with their roles, accounts and node identities
    /// @param quorumBps_ share of active organisations (basis points) whose approval passes a proposal
    /// @param votingPeriod_ seconds a proposal stays open
    function initialize(FounderInit[] calldata founders, uint16 quorumBps_, uint64 votingPeriod_) external initializer {
        if (founders.length == 0) revert NoFounders();
        _setGovernance(quorumBps_, votingPeriod_);
        for (uint256 i = 0; i < founders.length; ++i) {
            FounderInit calldata f = founders[i];
            uint32 orgId = _admit(f.name, f.roles, f.accounts);
            for (uint256 j = 0; j < f.nodes.length; ++j) {
                _addNode(orgId, f.nodes[j]);
            }
        }
    }

    // ---------------------------------------------------------------- governance

    /// @notice Proposes a membership or governance change; the proposing organisation votes yes.
    /// @param kind what to change; `data` is the ABI encoding of that kind's arguments (see ProposalKind)
    /// @return proposalId the new proposal's id
    function propose(ProposalKind kind, bytes calldata data) external returns (uint256 proposalId) {
        uint32 orgId = _requireActiveCaller();
        _validate(kind, data);
        proposalId = ++proposalCount;
        uint64 deadline = uint64(block.timestamp) + votingPeriod;
        _proposals[proposalId] = Proposal(kind, ProposalStatus.Open, orgId, deadline, data);
        emit ProposalCreated(proposalId, orgId, kind, data, deadline);
        _castVote(proposalId, orgId, true);
    }

    /// @notice Votes on an open proposal, once per organisation. The vote that reaches the quorum
    /// executes the proposal in the same transaction.
    function vote(uint256 proposalId, bool support) external {
        uint32 orgId = _requireActiveCaller();
        _requireOpen(proposalId);
        if (_ballots[proposalId][orgId] != 0) revert AlreadyVoted(proposalId, orgId);
        _castVote(proposalId, orgId, support);
    }

    /// @notice Executes an open proposal whose approvals already meet the quorum, e.g. after the
    /// quorum fell because an organisation was suspended or removed.
    function execute(uint256 proposalId) external {
        _requireActiveCaller();
        _requireOpen(proposalId);
        _tally(proposalId);
    }

    /// @notice Votes from organisations that are active now, and the approvals needed.
    function tally(uint256 proposalId) public view returns (uint32 yes, uint32 no, uint32 required) {
        uint32[] storage voters = _voters[proposalId];
        for (uint256 i = 0; i < voters.length; ++i) {
            uint32 orgId = voters[i];
            if (_orgs[orgId].status != OrgStatus.Active) continue;
            if (_ballots[proposalId][orgId] == 1) ++yes;
            else ++no;
        }
        required = requiredVotes();
    }

    /// @notice Approvals a proposal needs now: the quorum share of active organisations, rounded up.
    function requiredVotes() public view returns (uint32) {
        uint256 r = (uint256(activeOrgCount) * quorumBps + MAX_BPS - 1) / MAX_BPS;
        return r == 0 ? 1 : uint32(r);
    }

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

    /// @return the organisation's ballot: 0 none, 1 yes, 2 no
    function ballotOf(uint256 proposalId, uint32 orgId) external view returns (uint8) {
        return _ballots[proposalId][orgId];
    }

    // ---------------------------------------------------------------- IConsortium views

    function isActiveMember(address account) external view returns (bool) {
        return _orgs[_accountOrg[account]].status == OrgStatus.Active;
    }

    function orgOf(address account) external view returns (uint32) {
        return _accountOrg[account];
    }

    function activeOrgOf(address account) external view returns (uint32 orgId, uint256 roles) {
        orgId = _accountOrg[account];
        Org storage o = _orgs[orgId];
        if (o.status != OrgStatus.Active) return (0, 0);
        return (orgId, o.roles);
    }

    function isActiveOrg(uint32 orgId) public view returns (bool) {
        return _orgs[orgId].status == OrgStatus.Active;
    }

    function hasRole(uint32 orgId, Role role) external view returns (bool) {
        return _orgs[orgId].roles & _bit(role) != 0;
    }

    function isMemberPeer(string calldata peerId) external view returns (bool) {
        return isActiveOrg(_nodes[_nodeByPeer[keccak256(bytes(peerId))]].orgId);
    }

    function orgOfPeer(string calldata peerId) external view returns (uint32) {
        return _nodes[_nodeByPeer[keccak256(bytes(peerId))]].orgId;
    }

    // ---------------------------------------------------------------- directory views

    function org(uint32 orgId) external view returns (string memory name, OrgStatus status, uint256 roles) {
        Org storage o = _orgs[orgId];
        if (o.status == OrgStatus.None) revert UnknownOrg(orgId);
        return (o.name, o.status, o.roles);
    }

    function accountsOf(uint32 orgId) external view returns (address[] memory) {
        return _orgAccounts[orgId];
    }

    function nodesOf(uint32 orgId) external view returns (uint32[] memory) {
        return _orgNodes[orgId];
    }

    function node(uint32 nodeId) external view returns (NodeIdentity memory) {
        NodeIdentity storage n = _nodes[nodeId];
        if (!n.registered) revert UnknownNode(nodeId);
        return n;
    }

    // ---------------------------------------------------------------- Besu interfaces

    /// @inheritdoc IBesuPermissioning
    function getValidators() external view returns (address[] memory validators) {
        uint32 count = nodeCount;
        validators = new address[](count);
        uint256 n = 0;
        for (uint32 id = 1; id <= count; ++id) {
            NodeIdentity storage node_ = _nodes[id];
            if (node_.registered && node_.validator != address(0) && isActiveOrg(node_.orgId)) {
                validators[n++] = node_.validator;
            }
        }
        // Shrink the array to the validators found; cheaper than a second pass to count them.
        // solhint-disable-next-line no-inline-assembly
        assembly {
            mstore(validators, n)
        }
    }

    /// @inheritdoc IBesuPermissioning
    function connectionAllowed(string calldata enodeId, string calldata, uint16) external view returns (bool) {
        // Host and port are not compared: members move nodes behind NAT and DNS; the node key is
        // what identifies them.
        bytes32 key = _enodeKey(bytes(enodeId));
        if (key == bytes32(0)) return false;
        return isActiveOrg(_nodes[_nodeByEnode[key]].orgId);
    }

    /// @inheritdoc IBesuPermissioning
    function transactionAllowed(address sender, address, uint256, uint256, uint256, bytes calldata)
        external
        view
        returns (bool)
    {
        return _orgs[_accountOrg[sender]].status == OrgStatus.Active;
    }

    // ---------------------------------------------------------------- internals: voting

    function _castVote(uint256 proposalId, uint32 orgId, bool support) private {
        _ballots[proposalId][orgId] = support ? 1 : 2;
        _voters[proposalId].push(orgId);
        emit VoteCast(proposalId, orgId, support);
        _tally(proposalId);
    }

    /// @dev Counts only organisations that are active now, so a suspended or removed member's
    /// earlier ballot no longer decides anything.
    function _tally(uint256 proposalId) private {
        (uint32 yes, uint32 no, uint32 required) = tally(proposalId);
        Proposal storage p = _proposals[proposalId];
        if (yes >= required) {
            p.status = ProposalStatus.Executed;
            _apply(p.kind, p.data);
            emit ProposalExecuted(proposalId, p.kind);
        } else if (no > activeOrgCount - required) {
            p.status = ProposalStatus.Rejected;
            emit ProposalRejected(proposalId);
        }
    }

    function _requireOpen(uint256 proposalId) private view {
        Proposal storage p = _proposals[proposalId];
        if (p.status == ProposalStatus.None) revert UnknownProposal(proposalId);
        if (p.status != ProposalStatus.Open) revert ProposalNotOpen(proposalId, p.status);
        if (block.timestamp > p.deadline) revert ProposalNotOpen(proposalId, ProposalStatus.Expired);
    }

    function _requireActiveCaller() private view returns (uint32 orgId) {
        orgId = _accountOrg[msg.sender];
        if (_orgs[orgId].status != OrgStatus.Active) revert NotActiveMember(msg.sender);
    }

    // ---------------------------------------------------------------- internals: actions

    /// @dev Checks a proposal's arguments up front so a proposal that could never execute is
    /// refused at once instead of collecting votes.
    function _validate(ProposalKind kind, bytes calldata data) private view {
        if (kind == ProposalKind.Admit) {
            (string memory name, uint256 roles, address[] memory accounts) = abi.decode(data, (string, uint256, address[]));
            _checkNewOrg(name, roles, accounts);
        } else if (kind == ProposalKind.Suspend) {
            _requireStatus(abi.decode(data, (uint32)), OrgStatus.Active);
        } else if (kind == ProposalKind.Reinstate) {
            _requireStatus(abi.decode(data, (uint32)), OrgStatus.Suspended);
        } else if (kind == ProposalKind.Remove) {
            _requireNotGone(abi.decode(data, (uint32)));
        } else if (kind == ProposalKind.GrantRole || kind == ProposalKind.RevokeRole) {
            (uint32 orgId, uint8 role) = abi.decode(data, (uint32, uint8));
            _requireNotGone(orgId);
            _role(role);
        } else if (kind == ProposalKind.AddAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            _requireNotGone(orgId);
            _checkFreeAccount(account);
        } else if (kind == ProposalKind.RemoveAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            if (_accountOrg[account] != orgId || orgId == 0) revert AccountNotInOrg(account, orgId);
        } else if (kind == ProposalKind.AddNode) {
            (uint32 orgId, NodeInit memory n) = abi.decode(data, (uint32, NodeInit));
            _requireNotGone(orgId);
            _checkNewNode(n);
        } else if (kind == ProposalKind.RemoveNode) {
            uint32 nodeId = abi.decode(data, (uint32));
            if (!_nodes[nodeId].registered) revert UnknownNode(nodeId);
        } else if (kind == ProposalKind.SetGovernance) {
            (uint16 q, uint64 period) = abi.decode(data, (uint16, uint64));
            _checkGovernance(q, period);
        } else {
            (address target, address impl,) = abi.decode(data, (address, address, bytes));
            if (target.code.length == 0) revert NotAContract(target);
            if (impl.code.length == 0) revert NotAContract(impl);
        }
    }

    function _apply(ProposalKind kind, bytes memory data) private {
        if (kind == ProposalKind.Admit) {
            (string memory name, uint256 roles, address[] memory accounts) = abi.decode(data, (string, uint256, address[]));
            _admit(name, roles, accounts);
        } else if (kind == ProposalKind.Suspend) {
            uint32 orgId = abi.decode(data, (uint32));
            _requireStatus(orgId, OrgStatus.Active);
            _setStatus(orgId, OrgStatus.Suspended);
        } else if (kind == ProposalKind.Reinstate) {
            uint32 orgId = abi.decode(data, (uint32));
            _requireStatus(orgId, OrgStatus.Suspended);
            _setStatus(orgId, OrgStatus.Active);
        } else if (kind == ProposalKind.Remove) {
            uint32 orgId = abi.decode(data, (uint32));
            _requireNotGone(orgId);
            _setStatus(orgId, OrgStatus.Removed);
        } else if (kind == ProposalKind.GrantRole) {
            (uint32 orgId, uint8 r) = abi.decode(data, (uint32, uint8));
            Role role = _role(r);
            if (_orgs[orgId].roles & _bit(role) != 0) revert RoleAlreadyHeld(orgId, role);
            _orgs[orgId].roles |= _bit(role);
            emit RoleGranted(orgId, role);
        } else if (kind == ProposalKind.RevokeRole) {
            (uint32 orgId, uint8 r) = abi.decode(data, (uint32, uint8));
            Role role = _role(r);
            if (_orgs[orgId].roles & _bit(role) == 0) revert RoleNotHeld(orgId, role);
            _orgs[orgId].roles &= ~_bit(role);
            emit RoleRevoked(orgId, role);
        } else if (kind == ProposalKind.AddAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            _requireNotGone(orgId);
            _addAccount(orgId, account);
        } else if (kind == ProposalKind.RemoveAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            _removeAccount(orgId, account);
        } else if (kind == ProposalKind.AddNode) {
            (uint32 orgId, NodeInit memory n) = abi.decode(data, (uint32, NodeInit));
            _requireNotGone(orgId);
            _addNode(orgId, n);
        } else if (kind == ProposalKind.RemoveNode) {
            _removeNode(abi.decode(data, (uint32)));
        } else if (kind == ProposalKind.SetGovernance) {
            (uint16 q, uint64 period) = abi.decode(data, (uint16, uint64));
            _setGovernance(q, period);
        } else {
            (address target, address impl, bytes memory initCall) = abi.decode(data, (address, address, bytes));
            // An external call, so that the target (this contract too) sees Consortium as msg.sender.
            UUPSUpgradeable(target).upgradeToAndCall(impl, initCall);
        }
    }

    function _admit(string memory name, uint256 roles, address[] memory accounts) private returns (uint32 orgId) {
        _checkNewOrg(name, roles, accounts);
        orgId = ++orgCount;
        _orgs[orgId] = Org(name, OrgStatus.Active, roles);
        ++activeOrgCount;
        emit OrgAdmitted(orgId, name, roles);
        for (uint256 i = 0; i < accounts.length; ++i) {
            _addAccount(orgId, accounts[i]);
        }
    }

    function _setStatus(uint32 orgId, OrgStatus status) private {
        OrgStatus old = _orgs[orgId].status;
        if (old == OrgStatus.Active) {
            if (activeOrgCount == 1) revert LastActiveOrg(orgId);
            --activeOrgCount;
        }
        if (status == OrgStatus.Active) ++activeOrgCount;
        _orgs[orgId].status = status;
        emit OrgStatusChanged(orgId, status);
    }

    function _addAccount(uint32 orgId, address account) private {
        _checkFreeAccount(account);
        _accountOrg[account] = orgId;
        _orgAccounts[orgId].push(account);
        emit AccountAdded(orgId, account);
    }

    function _removeAccount(uint32 orgId, address account) private {
        if (orgId == 0 || _accountOrg[account] != orgId) revert AccountNotInOrg(account, orgId);
        address[] storage list = _orgAccounts[orgId];
        if (list.length == 1) revert LastAccount(orgId);
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == account) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        // The account is not handed back: a retired key never signs for another organisation.
        emit AccountRemoved(orgId, account);
    }

    function _addNode(uint32 orgId, NodeInit memory n) private {
        _checkNewNode(n);
        uint32 nodeId = ++nodeCount;
        _nodes[nodeId] = NodeIdentity(orgId, true, n.enodePort, n.validator, n.peerId, n.enodeId, n.enodeHost);
        _orgNodes[orgId].push(nodeId);
        _nodeByPeer[keccak256(bytes(n.peerId))] = nodeId;
        bytes32 enodeKey = _enodeKey(bytes(n.enodeId));
        if (enodeKey != bytes32(0)) _nodeByEnode[enodeKey] = nodeId;
        if (n.validator != address(0)) _nodeByValidator[n.validator] = nodeId;
        emit NodeAdded(orgId, nodeId, n.peerId, n.enodeId, n.enodeHost, n.enodePort, n.validator);
    }

    function _removeNode(uint32 nodeId) private {
        NodeIdentity storage n = _nodes[nodeId];
        if (!n.registered) revert UnknownNode(nodeId);
        n.registered = false;
        delete _nodeByPeer[keccak256(bytes(n.peerId))];
        bytes32 enodeKey = _enodeKey(bytes(n.enodeId));
        if (enodeKey != bytes32(0)) delete _nodeByEnode[enodeKey];
        if (n.validator != address(0)) delete _nodeByValidator[n.validator];
        uint32[] storage list = _orgNodes[n.orgId];
        for (uint256 i = 0; i < list.length; ++i) {
            if (list[i] == nodeId) {
                list[i] = list[list.length - 1];
                list.pop();
                break;
            }
        }
        emit NodeRemoved(n.orgId, nodeId, n.peerId);
    }

    function _setGovernance(uint16 q, uint64 period) private {
        _checkGovernance(q, period);
        quorumBps = q;
        votingPeriod = period;
        emit GovernanceChanged(q, period);
    }

    // ---------------------------------------------------------------- internals: checks

    function _checkNewOrg(string memory name, uint256 roles, address[] memory accounts) private view {
        if (bytes(name).length == 0) revert EmptyName();
        if (roles == 0 || roles & ~ROLE_MASK != 0) revert InvalidRoles(roles);
        if (accounts.length == 0) revert NoAccounts();
        for (uint256 i = 0; i < accounts.length; ++i) {
            _checkFreeAccount(accounts[i]);
            for (uint256 j = 0; j < i; ++j) {
                if (accounts[j] == accounts[i]) revert AccountTaken(accounts[i], 0);
            }
        }
    }

    function _checkFreeAccount(address account) private view {
        if (account == address(0)) revert ZeroAddress();
        uint32 owner = _accountOrg[account];
        if (owner != 0) revert AccountTaken(account, owner);
    }

    function _checkNewNode(NodeInit memory n) private view {
        if (bytes(n.peerId).length == 0) revert EmptyPeerId();
        if (_nodeByPeer[keccak256(bytes(n.peerId))] != 0) revert PeerIdTaken(n.peerId);
        if (bytes(n.enodeId).length != 0) {
            bytes32 key = _enodeKey(bytes(n.enodeId));
            if (key == bytes32(0)) revert InvalidEnodeId(n.enodeId);
            if (_nodeByEnode[key] != 0) revert EnodeTaken(n.enodeId);
        }
        if (n.validator != address(0) && _nodeByValidator[n.validator] != 0) revert ValidatorTaken(n.validator);
    }

    function _checkGovernance(uint16 q, uint64 period) private pure {
        if (q == 0 || q > MAX_BPS) revert InvalidQuorum(q);
        if (period < MIN_VOTING_PERIOD || period > MAX_VOTING_PERIOD) revert InvalidVotingPeriod(period);
    }

    function _requireStatus(uint32 orgId, OrgStatus expected) private view {
        OrgStatus s = _orgs[orgId].status;
        if (s == OrgStatus.None) revert UnknownOrg(orgId);
        if (s != expected) revert WrongOrgStatus(orgId, s);
    }

    function _requireNotGone(uint32 orgId) private view {
        OrgStatus s = _orgs[orgId].status;
        if (s == OrgStatus.None) revert UnknownOrg(orgId);
        if (s == OrgStatus.Removed) revert WrongOrgStatus(orgId, s);
    }

    function _role(uint8 r) private pure returns (Role) {
        if (r > uint8(type(Role).max)) revert UnknownRole(r);
        return Role(r);
    }

    function _bit(Role role) private pure returns (uint256) {
        return uint256(1) << uint8(role);
    }

    /// @dev Canonical key of an enode id: 128 hex digits (an optional 0x prefix is dropped, case is
    /// folded). Anything else yields 0, so lookups of malformed input answer "unknown" and never revert.
    function _enodeKey(bytes memory id) private pure returns (bytes32) {
        uint256 start = 0;
        if (id.length == 130 && id[0] == "0" && (id[1] == "x" || id[1] == "X")) start = 2;
        if (id.length - start != 128) return bytes32(0);
        bytes memory folded = new bytes(128);
        for (uint256 i = 0; i < 128; ++i) {
            bytes1 c = id[start + i];
            if (c >= "A" && c <= "F") c = bytes1(uint8(c) + 32);
            else if (!((c >= "0" && c <= "9") || (c >= "a" && c <= "f"))) return bytes32(0);
            folded[i] = c;
        }
        return keccak256(folded);
    }

    function _authorizeUpgrade(address) internal view override {
        // Only a passed Upgrade proposal, which calls upgradeToAndCall from this contract itself.
        if (msg.sender != address(this)) revert UpgradeNotByGovernance(msg.sender);
    }
}
