// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title The interfaces Hyperledger Besu (and GoQuorum) call on a permissioning chain.
/// @notice The signatures are fixed by the clients; their selectors are checked in tests:
/// getValidators() 0xb7ab4db5, connectionAllowed(string,string,uint16) 0x45a59e5b,
/// transactionAllowed(address,address,uint256,uint256,uint256,bytes) 0x936421d5.
/// All are views that never revert for unknown or malformed input and answer exactly one ABI
/// word: Besu treats a revert or any other answer as an error, and a failed check for every peer
/// or transaction would halt the network.
interface IBesuPermissioning {
    /// @notice QBFT validator-contract mode (ValidatorContractController): the validators of
    /// active member organisations. Besu reads it for every block.
    function getValidators() external view returns (address[] memory);

    /// @notice Node permissioning (NodeSmartContractV2PermissioningController): may the node with
    /// this enode id connect? Besu asks for both ends of every connection.
    /// @param enodeId the node public key as Besu sends it: 128 lowercase hex digits, no 0x
    /// @param enodeHost the host: an IP literal (IPv6 in brackets), then on a second call the DNS
    /// name; older Besu releases sent "0x" + the hex of the IP string's bytes
    /// @param enodePort the node's p2p listening port, 0 when it has none
    function connectionAllowed(string calldata enodeId, string calldata enodeHost, uint16 enodePort)
        external
        view
        returns (bool);

    /// @notice Account permissioning (TransactionSmartContractPermissioningController): may
    /// `sender` send this transaction? Besu's hand-made encoding follows `payload` with
    /// `32 - payload.length % 32` zero bytes (a whole extra word when the length is a multiple of
    /// 32); the ABI decoder ignores them.
    /// @param target zero for contract creation
    /// @param gasPrice zero for transactions without one (EIP-1559)
    function transactionAllowed(
        address sender,
        address target,
        uint256 value,
        uint256 gasPrice,
        uint256 gasLimit,
        bytes calldata payload
    ) external view returns (bool);
}
