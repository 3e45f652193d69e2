from django.apps import AppConfig


class JourneysConfig(AppConfig):
    name = "journeys"
    verbose_name = "Customer journeys"

    # Added to the role groups after every migrate; see accounts.roles.
    role_permissions = {
        "TAM": [
            "journeys.view_journey",
            "journeys.add_journey",
            "journeys.change_journey",
            "journeys.view_journeytask",
            "journeys.change_journeytask",
        ],
        "Manager": [
            "journeys.view_journey",
            "journeys.view_journeytask",
            "journeys.view_ttv_report",
        ],
        "CS admin": [
            "journeys.view_journey",
            "journeys.view_journeytask",
            "journeys.view_ttv_report",
            "journeys.view_playbook",
            "journeys.add_playbook",
            "journeys.change_playbook",
            "journeys.delete_playbook",
            "journeys.view_milestonetarget",
            "journeys.change_milestonetarget",
        ],
    }
