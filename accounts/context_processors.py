def roles(request):
    """Expose the signed-in user's roles to templates, for the navigation."""
    user = request.user
    if not user.is_authenticated:
        return {"nav": {}}
    return {
        "nav": {
            "sees_all": user.sees_all_accounts,
            "is_tam": user.is_tam,
            "is_manager": user.is_manager,
            "is_cs_admin": user.is_cs_admin or user.is_superuser,
        }
    }
