// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title The interfaces Hyperledger Besu (and GoQuorum) call on a permissioning chain.
/// @notice The signatures are fixed by the clients; their selectors are checked in tests:
/// getValidators() 0xb7ab4db5, connectionAllowed(string,string,uint16) 0x45a59e5b,
/// transactionAllowed(address,address,uint256,uint256,uint256,bytes) 0x936421d5.
/// All are views that never revert for unknown or malformed identifiers: the client treats a
/// revert as a failed check, and a failed check for every peer would halt the network.
interface IBesuPermissioning {
    /// @notice QBFT validator-contract mode: the validators of active member organisations.
    function getValidators() external view returns (address[] memory);

    /// @notice Node permissioning: may the node with this enode id connect?
    /// @param enodeId the node public key as 128 hex digits
    /// @param enodeHost the node's host as Besu reports it
    /// @param enodePort the node's p2p port
    function connectionAllowed(string calldata enodeId, string calldata enodeHost, uint16 enodePort)
        external
        view
        returns (bool);

    /// @notice Account permissioning: may `sender` send this transaction?
    function transactionAllowed(
        address sender,
        address target,
        uint256 value,
        uint256 gasPrice,
        uint256 gasLimit,
        bytes calldata payload
    ) external view returns (bool);
}
