"""Default milestone targets in days from the transaction, per segment; docs/journeys.md explains them.

A data migration stores them as MilestoneTarget rows, which a CS admin may
change. The selectors fall back to these numbers for a missing row.
"""

from .models import Milestone

# Segment "" is an account without a segment; it gets the Mid-Market numbers.
DEFAULT_TARGET_DAYS: dict[str, dict[str, int]] = {
    Milestone.KICKOFF: {"Large": 14, "Mid-Market": 14, "SMB": 14, "": 14},
    Milestone.ONBOARDING: {"Large": 60, "Mid-Market": 45, "SMB": 30, "": 45},
    Milestone.INFRASTRUCTURE_READY: {"Large": 90, "Mid-Market": 60, "SMB": 45, "": 60},
    Milestone.FIRST_VALUE: {"Large": 120, "Mid-Market": 90, "SMB": 60, "": 90},
    Milestone.OUTCOME_ACHIEVED: {"Large": 270, "Mid-Market": 180, "SMB": 120, "": 180},
}
