// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// @title Baseline for the gas report only: what a record costs when the whole EPCIS event is
/// stored on chain instead of its 32-byte hash. Not deployed by the Tracemesh module.
contract FullRecordStore {
    mapping(bytes32 key => bytes document) public documents;

    event DocumentStored(bytes32 indexed key, address indexed writer);

    function store(bytes32 key, bytes calldata document) external {
        documents[key] = document;
        emit DocumentStored(key, msg.sender);
    }
}
