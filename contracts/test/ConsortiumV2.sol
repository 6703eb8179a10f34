// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Consortium} from "../Consortium.sol";
import {ConsortiumBound} from "../base/ConsortiumBound.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";

/// @title Test-only next version of Consortium: proves a governed upgrade keeps the state and
/// brings new code (`version`, and a reinitializer run through the proposal's init call).
contract ConsortiumV2 is Consortium {
    string public releaseNote;

    /// @notice Runs once, inside the upgrade proposal's upgradeToAndCall.
    function initializeV2(string calldata note) external reinitializer(2) {
        releaseNote = note;
    }

    /// @notice The implementation's version.
    function version() external pure returns (uint256) {
        return 2;
    }
}

/// @title Test-only Tracemesh contract governed by Consortium, to upgrade through a proposal.
contract GovernedProbe is ConsortiumBound {
    uint256 public counter;
    uint256 public limit;

    error ZeroLimit();

    /// @notice Binds the probe to its Consortium.
    function initialize(IConsortium consortium_) external initializer {
        __ConsortiumBound_init(consortium_);
    }

    /// @notice Any active member may bump the counter; others are refused by ConsortiumBound.
    function bump() external {
        _callerOrg();
        ++counter;
    }

    /// @notice A setting only the consortium sets, through a passed Call proposal.
    function setLimit(uint256 limit_) external onlyConsortium {
        if (limit_ == 0) revert ZeroLimit();
        limit = limit_;
    }
}

/// @title Test-only next version of GovernedProbe.
contract GovernedProbeV2 is GovernedProbe {
    /// @notice The implementation's version.
    function version() external pure returns (uint256) {
        return 2;
    }
}
