// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {IConsortium} from "../interfaces/IConsortium.sol";

/// @title The Consortium proxy's state and vocabulary (types, events, errors), in one place for
/// the three codes that run on it.
/// @notice Consortium (entry points, voting, views) runs ConsortiumActions (what each proposal
/// kind checks and changes) and BesuPermissioning (what Besu asks) through delegatecall: all three
/// read and write the same proxy storage and speak the same events and errors, so they inherit
/// the declarations from here and nowhere else.
/// @dev Plain state variables behind a UUPS proxy: a new version appends after these, never
/// reorders or retypes them (contracts/storage-layouts/Consortium.json is the deployed layout and
/// test/contracts/storage-layout.test.ts holds every build to it). OpenZeppelin's upgradeable
/// bases use namespaced storage and do not collide.
abstract contract ConsortiumState {
    /// @dev `propose(kind, data)`: data is the ABI encoding of the arguments listed per kind.
    /// New kinds go at the end (proposals store the number).
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
        Upgrade, // (address target, address newImplementation, bytes initCall)
        SetExecutionDelay, // (uint64 executionDelay)
        SetGoverned, // (address[] targets, bool governed)
        Call, // (address target, bytes data)
        SetTransactionGasLimit // (uint64 maxTransactionGas; 0 for none)
    }

    /// @dev Expired is never stored: an Open proposal past its deadline reads as Expired. Queued:
    /// passed, waiting out the execution delay (Upgrade, Call and SetExecutionDelay only).
    enum ProposalStatus {
        None,
        Open,
        Executed,
        Rejected,
        Expired,
        Queued
    }

    struct Org {
        IConsortium.OrgStatus status;
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


    struct Proposal {
        ProposalKind kind;
        ProposalStatus status;
        uint32 proposer;
        uint64 deadline; // last second (inclusive) at which votes are accepted
        uint32 ballotCount; // in the same slot, so a ballot costs no length word of its own
        bytes data;
    }

    /// @dev What a proposal settles besides its data: the organisation it acts against (which
    /// does not vote on it) and, once queued, when it may execute.
    struct ProposalSchedule {
        uint32 subject;
        uint64 executableAt;
    }

    // ---------------------------------------------------------------- constants

    uint256 internal constant ROLE_MASK = (uint256(1) << (uint8(type(IConsortium.Role).max) + 1)) - 1;
    uint256 internal constant BALLOT_BITS = 40; // 32-bit orgId and the yes bit
    uint256 internal constant BALLOTS_PER_WORD = 6;
    uint256 internal constant BALLOT_MASK = (uint256(1) << BALLOT_BITS) - 1;
    uint16 public constant MAX_BPS = 10_000;
    /// @notice Quorums are strict majorities or more, so two opposite proposals cannot both pass.
    uint16 public constant MIN_QUORUM_BPS = 5_001;
    uint64 public constant MIN_VOTING_PERIOD = 5 minutes;
    uint64 public constant MAX_VOTING_PERIOD = 90 days;
    uint64 public constant MAX_EXECUTION_DELAY = 30 days;
    /// @notice A transaction gas bound below this could leave members unable to vote it back up.
    uint64 public constant MIN_TRANSACTION_GAS = 5_000_000;


    // ---------------------------------------------------------------- events

    event OrgAdmitted(uint32 indexed orgId, string name, uint256 roles);
    event OrgStatusChanged(uint32 indexed orgId, IConsortium.OrgStatus status);
    event RoleGranted(uint32 indexed orgId, IConsortium.Role indexed role);
    event RoleRevoked(uint32 indexed orgId, IConsortium.Role indexed role);
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
    event ExecutionDelayChanged(uint64 executionDelay);
    event GovernedChanged(address indexed target, bool governed);
    event TransactionGasLimitChanged(uint64 maxTransactionGas);
    event ProposalCreated(
        uint256 indexed proposalId,
        uint32 indexed proposer,
        ProposalKind indexed kind,
        bytes data,
        uint64 deadline
    );
    event VoteCast(uint256 indexed proposalId, uint32 indexed orgId, bool support);
    /// @notice Passed, executable by anyone from `executableAt` on.
    event ProposalQueued(uint256 indexed proposalId, uint64 executableAt);
    event ProposalExecuted(uint256 indexed proposalId, ProposalKind indexed kind);
    event ProposalRejected(uint256 indexed proposalId);
    /// @notice `orgId` objected to queued proposal `proposalId` during its execution delay.
    event ProposalObjected(uint256 indexed proposalId, uint32 indexed orgId);

    // ---------------------------------------------------------------- errors

    error NoFounders();
    /// @param quorumBps outside [MIN_QUORUM_BPS, MAX_BPS]
    error InvalidQuorum(uint16 quorumBps);
    /// @param votingPeriod outside [MIN_VOTING_PERIOD, MAX_VOTING_PERIOD]
    error InvalidVotingPeriod(uint64 votingPeriod);
    /// @param executionDelay above MAX_EXECUTION_DELAY
    error InvalidExecutionDelay(uint64 executionDelay);
    /// @param maxTransactionGas neither 0 (no bound) nor at least MIN_TRANSACTION_GAS
    error InvalidTransactionGasLimit(uint64 maxTransactionGas);
    error EmptyName();
    /// @param roles zero, or with bits beyond the last Role
    error InvalidRoles(uint256 roles);
    error NoAccounts();
    error ZeroAddress();
    /// @param orgId the organisation the account is bound to (0: listed twice in one request)
    error AccountTaken(address account, uint32 orgId);
    error UnknownOrg(uint32 orgId);
    error WrongOrgStatus(uint32 orgId, IConsortium.OrgStatus status);
    /// @dev Suspending or removing the only active organisation would leave nobody to govern.
    error LastActiveOrg(uint32 orgId);
    /// @dev The change would leave getValidators() empty, which halts a QBFT chain.
    error LastValidators(uint32 orgId);
    error RoleAlreadyHeld(uint32 orgId, IConsortium.Role role);
    error RoleNotHeld(uint32 orgId, IConsortium.Role role);
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
    /// @dev The organisation a Suspend, Remove or RevokeRole acts against does not vote on it.
    error SubjectMayNotVote(uint256 proposalId, uint32 orgId);
    error QuorumNotReached(uint256 proposalId, uint32 yes, uint32 required);
    /// @param executableAt the first second at which the queued proposal may execute
    error ExecutionDelayNotOver(uint256 proposalId, uint64 executableAt);
    /// @notice Objections are taken only while the proposal is queued and its delay not over.
    error NotObjectable(uint256 proposalId, ProposalStatus status, uint64 executableAt);
    /// @notice The organisation already voted no on the proposal or objected to it.
    error AlreadyOpposed(uint256 proposalId, uint32 orgId);
    error NotAContract(address target);
    /// @param target neither this Consortium nor a proxy on its allow-list (SetGoverned), or,
    /// when being allow-listed, a contract that does not name this Consortium as its governor
    error NotGovernedHere(address target);
    /// @param implementation not a UUPS implementation (no ERC-1967 proxiableUUID)
    error NotUUPSImplementation(address implementation);
    /// @dev A Call may not upgrade: that is an Upgrade proposal, which checks the implementation.
    error UpgradeThroughCall(address target);
    error UpgradeNotByGovernance(address caller);

    // ---------------------------------------------------------------- state

    uint16 public quorumBps;
    uint64 public votingPeriod;
    uint32 public orgCount;
    uint32 public activeOrgCount;
    uint32 public nodeCount;
    /// @notice Validator addresses of active organisations' registered nodes: getValidators' length.
    uint32 public activeValidatorCount;
    uint256 public proposalCount;

    mapping(uint32 orgId => Org) internal _orgs;
    mapping(address account => AccountRecord) internal _accounts;
    mapping(uint32 orgId => address[]) internal _orgAccounts;
    mapping(uint32 nodeId => NodeIdentity) internal _nodes;
    mapping(uint32 orgId => uint32[]) internal _orgNodes;
    mapping(bytes32 peerIdHash => uint32 nodeId) internal _nodeByPeer;
    mapping(bytes32 enodeKey => uint32 nodeId) internal _nodeByEnode;
    mapping(address validator => uint32 nodeId) internal _nodeByValidator;
    mapping(uint256 proposalId => Proposal) internal _proposals;
    /// @dev Ballot i of a proposal is (orgId << 1 | yes) in word i / 6, bits (i % 6) * 40: six to
    /// a slot, one per organisation, counted by scan (ballotCount lives in the Proposal).
    mapping(uint256 proposalId => mapping(uint256 word => uint256)) internal _ballots;

    // ---- appended after the first deployed layout

    /// @notice Seconds between passing and executing an Upgrade, Call or SetExecutionDelay.
    uint64 public executionDelay;
    /// @notice Largest gas limit transactionAllowed accepts for one transaction; 0 for no bound.
    uint64 public maxTransactionGas;
    /// @notice Proxies (besides Consortium itself) that Upgrade and Call proposals may act on.
    mapping(address target => bool) public isGoverned;
    mapping(uint256 proposalId => ProposalSchedule) internal _schedules;
    /// @dev Organisations that objected to a queued proposal, in order (Consortium.object).
    mapping(uint256 proposalId => uint32[]) internal _objectors;

    /// @dev The active organisation `account` signs for, 0 when none (retired, suspended, removed).
    function _activeOrgOf(address account) internal view returns (uint32) {
        AccountRecord storage a = _accounts[account];
        uint32 orgId = a.orgId;
        if (a.retired || _orgs[orgId].status != IConsortium.OrgStatus.Active) return 0;
        return orgId;
    }
}
