// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Initializable} from "@openzeppelin/contracts-upgradeable/proxy/utils/Initializable.sol";
import {UUPSUpgradeable} from "@openzeppelin/contracts-upgradeable/proxy/utils/UUPSUpgradeable.sol";
import {IERC1822Proxiable} from "@openzeppelin/contracts/interfaces/draft-IERC1822.sol";
import {ERC1967Utils} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Utils.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {IBesuPermissioning} from "./interfaces/IBesuPermissioning.sol";
import {ConsortiumBound} from "./base/ConsortiumBound.sol";

/// @title Consortium: who is a member, with which roles, accounts and nodes.
/// @notice Founding members are set at deployment; afterwards every change is a proposal that a
/// quorum of active member organisations approves (one vote per organisation). There is no owner.
/// The same membership answers Besu's validator-contract and permissioning interfaces, so one
/// decision gates consensus, node connections, transactions and the application contracts.
contract Consortium is IConsortium, IBesuPermissioning, Initializable, UUPSUpgradeable {
    // ---------------------------------------------------------------- types

    /// @dev `propose(kind, data)`: data is the ABI encoding of the arguments listed per kind.
    enum ProposalKind {
        Admit, // (string name, uint256 roles, address[] accounts, NodeInit[] nodes)
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

    /// @dev Expired is never stored: an Open proposal past its deadline reads as Expired.
    enum ProposalStatus {
        None,
        Open,
        Executed,
        Rejected,
        Expired
    }

    struct NodeInit {
        string peerId; // libp2p peer id, as libp2p prints it (base58btc "12D3KooW..." or CID)
        string enodeId; // Besu node public key: 128 lowercase hex digits, no 0x ("" when none)
        string enodeHost; // informational: Besu identifies a peer by its key, the host may change
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
        OrgStatus status;
        uint32 validatorCount; // registered validator nodes, packed with status for getValidators
        uint256 roles;
        string name;
    }

    /// @dev An account stays bound to its organisation for good; `retired` accounts no longer sign.
    struct AccountRecord {
        uint32 orgId;
        bool retired;
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
        uint64 deadline; // last second (inclusive) at which votes are accepted
        uint32 ballotCount; // in the same slot, so a ballot costs no length word of its own
        bytes data;
    }

    // ---------------------------------------------------------------- storage
    // Plain state variables behind a UUPS proxy: a new version appends after these, never
    // reorders or retypes them (OZ's upgradeable bases use namespaced storage and do not collide).

    uint256 private constant ROLE_MASK = (uint256(1) << (uint8(type(Role).max) + 1)) - 1;
    uint256 private constant BALLOT_BITS = 40; // 32-bit orgId and the yes bit
    uint256 private constant BALLOTS_PER_WORD = 6;
    uint256 private constant BALLOT_MASK = (uint256(1) << BALLOT_BITS) - 1;
    uint16 public constant MAX_BPS = 10_000;
    /// @notice Quorums are strict majorities or more, so two opposite proposals cannot both pass.
    uint16 public constant MIN_QUORUM_BPS = 5_001;
    uint64 public constant MIN_VOTING_PERIOD = 5 minutes;
    uint64 public constant MAX_VOTING_PERIOD = 90 days;

    uint16 public quorumBps;
    uint64 public votingPeriod;
    uint32 public orgCount;
    uint32 public activeOrgCount;
    uint32 public nodeCount;
    /// @notice Validator addresses of active organisations' registered nodes: getValidators' length.
    uint32 public activeValidatorCount;
    uint256 public proposalCount;

    mapping(uint32 orgId => Org) private _orgs;
    mapping(address account => AccountRecord) private _accounts;
    mapping(uint32 orgId => address[]) private _orgAccounts;
    mapping(uint32 nodeId => NodeIdentity) private _nodes;
    mapping(uint32 orgId => uint32[]) private _orgNodes;
    mapping(bytes32 peerIdHash => uint32 nodeId) private _nodeByPeer;
    mapping(bytes32 enodeKey => uint32 nodeId) private _nodeByEnode;
    mapping(address validator => uint32 nodeId) private _nodeByValidator;
    mapping(uint256 proposalId => Proposal) private _proposals;
    /// @dev Ballot i of a proposal is (orgId << 1 | yes) in word i / 6, bits (i % 6) * 40: six to
    /// a slot, one per organisation, counted by scan (ballotCount lives in the Proposal).
    mapping(uint256 proposalId => mapping(uint256 word => uint256)) private _ballots;

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
    /// @param quorumBps outside [MIN_QUORUM_BPS, MAX_BPS]
    error InvalidQuorum(uint16 quorumBps);
    /// @param votingPeriod outside [MIN_VOTING_PERIOD, MAX_VOTING_PERIOD]
    error InvalidVotingPeriod(uint64 votingPeriod);
    error EmptyName();
    /// @param roles zero, or with bits beyond the last Role
    error InvalidRoles(uint256 roles);
    error NoAccounts();
    error ZeroAddress();
    /// @param orgId the organisation the account is bound to (0: listed twice in one request)
    error AccountTaken(address account, uint32 orgId);
    error UnknownOrg(uint32 orgId);
    error WrongOrgStatus(uint32 orgId, OrgStatus status);
    /// @dev Suspending or removing the only active organisation would leave nobody to govern.
    error LastActiveOrg(uint32 orgId);
    /// @dev The change would leave getValidators() empty, which halts a QBFT chain.
    error LastValidators(uint32 orgId);
    error RoleAlreadyHeld(uint32 orgId, Role role);
    error RoleNotHeld(uint32 orgId, Role role);
    error UnknownRole(uint8 role);
    /// @param account not a current (unretired) account of organisation `orgId`
    error AccountNotInOrg(address account, uint32 orgId);
    error LastAccount(uint32 orgId);
    error EmptyPeerId();
    error PeerIdTaken(string peerId);
    /// @param enodeId not 128 lowercase hex digits
    error InvalidEnodeId(string enodeId);
    error EnodeTaken(string enodeId);
    error ValidatorTaken(address validator);
    error UnknownNode(uint32 nodeId);
    error NotActiveMember(address account);
    error UnknownProposal(uint256 proposalId);
    error ProposalNotOpen(uint256 proposalId, ProposalStatus status);
    error AlreadyVoted(uint256 proposalId, uint32 orgId);
    error QuorumNotReached(uint256 proposalId, uint32 yes, uint32 required);
    error NotAContract(address target);
    /// @param target a contract that does not name this Consortium as the one that upgrades it
    error NotGovernedHere(address target);
    /// @param implementation not a UUPS implementation (no ERC-1967 proxiableUUID)
    error NotUUPSImplementation(address implementation);
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
            _checkNewOrg(f.name, f.roles, f.accounts, f.nodes);
            _admit(f.name, f.roles, f.accounts, f.nodes);
        }
    }

    // ---------------------------------------------------------------- governance

    /// @notice Proposes a membership or governance change; the proposing organisation votes yes,
    /// which executes it at once when that alone meets the quorum.
    /// @dev The arguments are validated now, so a proposal that could not execute collects no votes;
    /// they are validated again at execution, when the state may have moved on.
    /// @param kind what to change; `data` is the ABI encoding of that kind's arguments (see ProposalKind)
    /// @return proposalId the new proposal's id
    function propose(ProposalKind kind, bytes calldata data) external returns (uint256 proposalId) {
        uint32 orgId = _requireActiveCaller();
        _validate(kind, data);
        proposalId = ++proposalCount;
        uint64 deadline = uint64(block.timestamp) + votingPeriod;
        _proposals[proposalId] = Proposal(kind, ProposalStatus.Open, orgId, deadline, 0, data);
        emit ProposalCreated(proposalId, orgId, kind, data, deadline);
        _castVote(proposalId, orgId, true);
    }

    /// @notice Votes on an open proposal, once per organisation (through any of its accounts). The
    /// vote that reaches the quorum executes the proposal in the same transaction; the vote that
    /// makes approval impossible rejects it.
    /// @param proposalId the open, unexpired proposal
    /// @param support true to approve
    function vote(uint256 proposalId, bool support) external {
        uint32 orgId = _requireActiveCaller();
        _requireOpen(proposalId);
        if (_ballotOf(proposalId, orgId) != 0) revert AlreadyVoted(proposalId, orgId);
        _castVote(proposalId, orgId, support);
    }

    /// @notice Settles an open proposal whose outcome changed without a vote, because organisations
    /// were suspended, removed or admitted or the quorum changed: executes it when its approvals
    /// meet the quorum now, rejects it when approval has become impossible.
    /// @param proposalId the open, unexpired proposal
    function execute(uint256 proposalId) external {
        _requireActiveCaller();
        _requireOpen(proposalId);
        if (!_settle(proposalId)) {
            (uint32 yes,, uint32 required) = tally(proposalId);
            revert QuorumNotReached(proposalId, yes, required);
        }
    }

    /// @notice Ballots of organisations that are active now, and the approvals needed now. A
    /// suspended or removed organisation's ballot does not count (again if it is reinstated).
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
        required = requiredVotes();
    }

    /// @notice Approvals a proposal needs now: the quorum share of active organisations, rounded up.
    function requiredVotes() public view returns (uint32) {
        uint256 r = (uint256(activeOrgCount) * quorumBps + MAX_BPS - 1) / MAX_BPS;
        return r == 0 ? 1 : uint32(r);
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
        return _orgs[orgId].roles & _bit(role) != 0;
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
    function nodeOfEnode(string calldata enodeId) external view returns (uint32) {
        return _nodeOfEnode(bytes(enodeId));
    }

    // ---------------------------------------------------------------- Besu interfaces

    /// @inheritdoc IBesuPermissioning
    /// @dev Ordered by node id. Besu's ValidatorContractController reads it at every block.
    function getValidators() external view returns (address[] memory validators) {
        validators = new address[](activeValidatorCount);
        uint256 found = 0;
        uint32 count = nodeCount;
        for (uint32 id = 1; id <= count; ++id) {
            NodeIdentity storage n = _nodes[id];
            if (n.registered && n.validator != address(0) && _orgs[n.orgId].status == OrgStatus.Active) {
                validators[found++] = n.validator;
            }
        }
    }

    /// @inheritdoc IBesuPermissioning
    /// @dev Besu (NodeSmartContractV2PermissioningController) sends the node id as lowercase hex
    /// without 0x; case and a 0x prefix are tolerated too. Host and port are not compared: Besu asks
    /// again with the DNS name, and members move nodes behind NAT; the node key identifies them.
    function connectionAllowed(string calldata enodeId, string calldata, uint16) external view returns (bool) {
        NodeIdentity storage n = _nodes[_nodeOfEnode(bytes(enodeId))];
        return n.registered && _orgs[n.orgId].status == OrgStatus.Active;
    }

    /// @inheritdoc IBesuPermissioning
    /// @dev Only the sender matters: an active organisation's current account may transact, to any
    /// target (contract creation included, target 0), at any gas price.
    function transactionAllowed(address sender, address, uint256, uint256, uint256, bytes calldata)
        external
        view
        returns (bool)
    {
        return _activeOrgOf(sender) != 0;
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

    /// @dev Executes or rejects the proposal when its outcome is decided; false when still open.
    function _settle(uint256 proposalId) private returns (bool) {
        (uint32 yes, uint32 no, uint32 required) = tally(proposalId);
        Proposal storage p = _proposals[proposalId];
        if (yes >= required) {
            // Re-validated: the state may have changed since the proposal was made. A failure
            // reverts the deciding transaction, so the proposal stays open for a later attempt.
            ProposalKind kind = p.kind;
            bytes memory data = p.data;
            _validate(kind, data);
            // Marked before acting, so that an upgrade's external call cannot re-enter it.
            p.status = ProposalStatus.Executed;
            _apply(kind, data);
            emit ProposalExecuted(proposalId, kind);
            return true;
        }
        // Organisations that have not voted yet could still add `activeOrgCount - yes - no` approvals.
        if (no > activeOrgCount - required) {
            p.status = ProposalStatus.Rejected;
            emit ProposalRejected(proposalId);
            return true;
        }
        return false;
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

    function _activeOrgOf(address account) private view returns (uint32) {
        AccountRecord storage a = _accounts[account];
        uint32 orgId = a.orgId;
        if (a.retired || _orgs[orgId].status != OrgStatus.Active) return 0;
        return orgId;
    }

    // ---------------------------------------------------------------- internals: validation

    /// @dev Everything a proposal needs to execute, checked at propose time and again at execution.
    function _validate(ProposalKind kind, bytes memory data) private view {
        if (kind == ProposalKind.Admit) {
            (string memory name, uint256 roles, address[] memory accounts, NodeInit[] memory nodes) =
                abi.decode(data, (string, uint256, address[], NodeInit[]));
            _checkNewOrg(name, roles, accounts, nodes);
        } else if (kind == ProposalKind.Suspend) {
            uint32 orgId = abi.decode(data, (uint32));
            _requireStatus(orgId, OrgStatus.Active);
            _checkDeactivation(orgId);
        } else if (kind == ProposalKind.Reinstate) {
            _requireStatus(abi.decode(data, (uint32)), OrgStatus.Suspended);
        } else if (kind == ProposalKind.Remove) {
            uint32 orgId = abi.decode(data, (uint32));
            _requireNotGone(orgId);
            if (_orgs[orgId].status == OrgStatus.Active) _checkDeactivation(orgId);
        } else if (kind == ProposalKind.GrantRole || kind == ProposalKind.RevokeRole) {
            (uint32 orgId, uint8 r) = abi.decode(data, (uint32, uint8));
            _requireNotGone(orgId);
            Role role = _role(r);
            bool held = _orgs[orgId].roles & _bit(role) != 0;
            if (kind == ProposalKind.GrantRole && held) revert RoleAlreadyHeld(orgId, role);
            if (kind == ProposalKind.RevokeRole && !held) revert RoleNotHeld(orgId, role);
        } else if (kind == ProposalKind.AddAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            _requireNotGone(orgId);
            _checkFreeAccount(account);
        } else if (kind == ProposalKind.RemoveAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            _requireNotGone(orgId);
            AccountRecord storage a = _accounts[account];
            if (a.orgId != orgId || a.retired) revert AccountNotInOrg(account, orgId);
            if (_orgAccounts[orgId].length == 1) revert LastAccount(orgId);
        } else if (kind == ProposalKind.AddNode) {
            (uint32 orgId, NodeInit memory n) = abi.decode(data, (uint32, NodeInit));
            _requireNotGone(orgId);
            _checkNewNode(n);
        } else if (kind == ProposalKind.RemoveNode) {
            uint32 nodeId = abi.decode(data, (uint32));
            NodeIdentity storage n = _nodes[nodeId];
            if (!n.registered) revert UnknownNode(nodeId);
            if (
                n.validator != address(0) && _orgs[n.orgId].status == OrgStatus.Active && activeValidatorCount == 1
            ) revert LastValidators(n.orgId);
        } else if (kind == ProposalKind.SetGovernance) {
            (uint16 q, uint64 period) = abi.decode(data, (uint16, uint64));
            _checkGovernance(q, period);
        } else {
            (address target, address impl,) = abi.decode(data, (address, address, bytes));
            _checkUpgrade(target, impl);
        }
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
            if (!_isCanonicalEnode(bytes(n.enodeId))) revert InvalidEnodeId(n.enodeId);
            if (_nodeByEnode[keccak256(bytes(n.enodeId))] != 0) revert EnodeTaken(n.enodeId);
        }
        if (n.validator != address(0) && _nodeByValidator[n.validator] != 0) revert ValidatorTaken(n.validator);
    }

    function _checkGovernance(uint16 q, uint64 period) private pure {
        if (q < MIN_QUORUM_BPS || q > MAX_BPS) revert InvalidQuorum(q);
        if (period < MIN_VOTING_PERIOD || period > MAX_VOTING_PERIOD) revert InvalidVotingPeriod(period);
    }

    /// @dev The target must be this contract or one that Consortium upgrades (ConsortiumBound),
    /// and the implementation a UUPS one, so a wrong address fails at propose time, not after votes.
    function _checkUpgrade(address target, address impl) private view {
        if (target.code.length == 0) revert NotAContract(target);
        if (impl.code.length == 0) revert NotAContract(impl);
        if (target != address(this)) {
            try ConsortiumBound(target).consortium() returns (IConsortium governor) {
                if (address(governor) != address(this)) revert NotGovernedHere(target);
            } catch {
                revert NotGovernedHere(target);
            }
        }
        try IERC1822Proxiable(impl).proxiableUUID() returns (bytes32 slot) {
            if (slot != ERC1967Utils.IMPLEMENTATION_SLOT) revert NotUUPSImplementation(impl);
        } catch {
            revert NotUUPSImplementation(impl);
        }
    }

    /// @dev An active organisation may leave the active set unless it is the last one, or its
    /// validators are the last ones.
    function _checkDeactivation(uint32 orgId) private view {
        if (activeOrgCount == 1) revert LastActiveOrg(orgId);
        uint32 v = _orgs[orgId].validatorCount;
        if (v != 0 && v == activeValidatorCount) revert LastValidators(orgId);
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

    function _isCanonicalEnode(bytes memory id) private pure returns (bool) {
        if (id.length != 128) return false;
        for (uint256 i = 0; i < 128; ++i) {
            bytes1 c = id[i];
            if (!((c >= "0" && c <= "9") || (c >= "a" && c <= "f"))) return false;
        }
        return true;
    }

    /// @dev The registered node with this enode id, 0 when none; never reverts. Besu sends the
    /// canonical spelling (128 lowercase hex digits), which is found with one hash; only other
    /// spellings (uppercase digits, a 0x prefix) are folded, and anything else is unknown.
    function _nodeOfEnode(bytes calldata id) private view returns (uint32) {
        uint256 len = id.length;
        if (len == 128) {
            // Registered keys hash canonical ids, so a hit is exact.
            uint32 nodeId = _nodeByEnode[keccak256(id)];
            if (nodeId != 0) return nodeId;
        } else if (len != 130 || id[0] != "0" || (id[1] != "x" && id[1] != "X")) {
            return 0;
        }
        bytes memory folded = new bytes(128);
        uint256 start = len - 128;
        unchecked {
            for (uint256 i = 0; i < 128; ++i) {
                uint8 c = uint8(id[start + i]);
                if (c >= 0x41 && c <= 0x46) c += 32; // A-F
                else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return 0; // 0-9, a-f
                folded[i] = bytes1(c);
            }
        }
        return _nodeByEnode[keccak256(folded)];
    }

    // ---------------------------------------------------------------- internals: actions

    /// @dev Applies a validated proposal.
    function _apply(ProposalKind kind, bytes memory data) private {
        if (kind == ProposalKind.Admit) {
            (string memory name, uint256 roles, address[] memory accounts, NodeInit[] memory nodes) =
                abi.decode(data, (string, uint256, address[], NodeInit[]));
            _admit(name, roles, accounts, nodes);
        } else if (kind == ProposalKind.Suspend) {
            _setStatus(abi.decode(data, (uint32)), OrgStatus.Suspended);
        } else if (kind == ProposalKind.Reinstate) {
            _setStatus(abi.decode(data, (uint32)), OrgStatus.Active);
        } else if (kind == ProposalKind.Remove) {
            _setStatus(abi.decode(data, (uint32)), OrgStatus.Removed);
        } else if (kind == ProposalKind.GrantRole) {
            (uint32 orgId, uint8 r) = abi.decode(data, (uint32, uint8));
            _orgs[orgId].roles |= _bit(Role(r));
            emit RoleGranted(orgId, Role(r));
        } else if (kind == ProposalKind.RevokeRole) {
            (uint32 orgId, uint8 r) = abi.decode(data, (uint32, uint8));
            _orgs[orgId].roles &= ~_bit(Role(r));
            emit RoleRevoked(orgId, Role(r));
        } else if (kind == ProposalKind.AddAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            _addAccount(orgId, account);
        } else if (kind == ProposalKind.RemoveAccount) {
            (uint32 orgId, address account) = abi.decode(data, (uint32, address));
            _retireAccount(orgId, account);
        } else if (kind == ProposalKind.AddNode) {
            (uint32 orgId, NodeInit memory n) = abi.decode(data, (uint32, NodeInit));
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

    function _admit(string memory name, uint256 roles, address[] memory accounts, NodeInit[] memory nodes)
        private
        returns (uint32 orgId)
    {
        orgId = ++orgCount;
        Org storage o = _orgs[orgId];
        o.status = OrgStatus.Active;
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

    function _setStatus(uint32 orgId, OrgStatus status) private {
        Org storage o = _orgs[orgId];
        if (o.status == OrgStatus.Active) {
            --activeOrgCount;
            activeValidatorCount -= o.validatorCount;
        }
        if (status == OrgStatus.Active) {
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
            if (o.status == OrgStatus.Active) ++activeValidatorCount;
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
            if (o.status == OrgStatus.Active) --activeValidatorCount;
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
        _checkGovernance(q, period);
        quorumBps = q;
        votingPeriod = period;
        emit GovernanceChanged(q, period);
    }

    /// @dev Only a passed Upgrade proposal, which calls upgradeToAndCall from this contract itself.
    function _authorizeUpgrade(address) internal view override {
        if (msg.sender != address(this)) revert UpgradeNotByGovernance(msg.sender);
    }
}
