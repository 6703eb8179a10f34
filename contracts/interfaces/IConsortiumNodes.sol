// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title The node registry of Consortium, as DataAnchors reads it (Consortium.nodesOf and .node).
/// @notice The struct mirrors Consortium.NodeIdentity field for field (same ABI encoding).
interface IConsortiumNodes {
    struct NodeIdentity {
        uint32 orgId;
        bool registered;
        uint16 enodePort;
        address validator;
        string peerId;
        string enodeId;
        string enodeHost;
    }

    function nodesOf(uint32 orgId) external view returns (uint32[] memory);

    function node(uint32 nodeId) external view returns (NodeIdentity memory);
}

