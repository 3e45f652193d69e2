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
            "journeys.view_successplan",
            "journeys.add_successplan",
            "journeys.change_successplan",
            "journeys.view_objective",
            "journeys.add_objective",
            "journeys.change_objective",
            "journeys.view_activity",
            "journeys.add_activity",
            "journeys.change_activity",
        ],
        "Manager": [
            "journeys.view_journey",
            "journeys.view_journeytask",
            "journeys.view_ttv_report",
            "journeys.view_successplan",
            "journeys.view_objective",
            "journeys.view_activity",
            "journeys.view_plan_report",
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
            "journeys.view_successplan",
            "journeys.view_objective",
            "journeys.change_original_intent",
            "journeys.view_activity",
            "journeys.view_plan_report",
        ],
    }
