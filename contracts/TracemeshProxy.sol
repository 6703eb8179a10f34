// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {ERC1967Proxy} from "@openzeppelin/contracts/proxy/ERC1967/ERC1967Proxy.sol";

/// @title The proxy in front of every Tracemesh contract (ERC-1967, UUPS).
/// @notice Addresses stay fixed across upgrades, which Consortium governs; named here so the
/// deployment module and bindings have one artifact to use.
contract TracemeshProxy is ERC1967Proxy {
    constructor(address implementation, bytes memory initCall) payable ERC1967Proxy(implementation, initCall) {}
}
