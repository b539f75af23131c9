"""Programmes, courses, instructors and modules."""

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from lms.accounts.models import Role
from lms.catalog import permissions, services
from lms.catalog.schemas import (
    CourseCreate,
    CourseListArgs,
    CourseOut,
    CourseUpdate,
    InstructorOut,
    ModuleCreate,
    ModuleOrder,
    ModuleOut,
    ModuleUpdate,
    ProgramCreate,
    ProgramOut,
    ProgramUpdate,
)
from lms.core.auth import actor, login_required, roles_required
from lms.core.errors import NotFound
from lms.core.pagination import paginate
from lms.extensions import db

programs_blp = Blueprint(
    "programs",
    __name__,
    url_prefix="/api/v1/programs",
    description="Programmes (项目) that group courses.",
)
courses_blp = Blueprint(
    "courses",
    __name__,
    url_prefix="/api/v1/courses",
    description="Courses (研修班): status workflow, instructors, modules.",
)
modules_blp = Blueprint(
    "modules", __name__, url_prefix="/api/v1/modules", description="Theory and practical modules."
)


@programs_blp.route("")
class Programs(MethodView):
    @roles_required(Role.ADMIN)
    @programs_blp.arguments(ProgramCreate)
    @programs_blp.response(201, ProgramOut)
    @programs_blp.alt_response(409, description="``code-taken``: another programme has it.")
    def post(self, data):
        """Create a programme."""
        return services.create_program(data, actor=actor())

    @login_required
    @programs_blp.response(200, ProgramOut(many=True))
    @programs_blp.paginate()
    def get(self, pagination_parameters):
        """List programmes."""
        return paginate(services.program_query(), pagination_parameters)


@programs_blp.route("/<int:program_id>")
class ProgramItem(MethodView):
    @login_required
    @programs_blp.response(200, ProgramOut)
    def get(self, program_id):
        """One programme."""
        return services.get_program(program_id)

    @roles_required(Role.ADMIN)
    @programs_blp.arguments(ProgramUpdate)
    @programs_blp.response(200, ProgramOut)
    @programs_blp.alt_response(409, description="``code-taken``: another programme has it.")
    def patch(self, changes, program_id):
        """Update a programme."""
        return services.update_program(services.get_program(program_id), changes, actor=actor())


@courses_blp.route("")
class Courses(MethodView):
    @roles_required(Role.ADMIN)
    @courses_blp.arguments(CourseCreate)
    @courses_blp.response(201, CourseOut)
    @courses_blp.alt_response(409, description="``code-taken``: another course has this code.")
    def post(self, data):
        """Create a course (status draft)."""
        return services.create_course(data, actor=actor())

    @login_required
    @courses_blp.arguments(CourseListArgs, location="query")
    @courses_blp.response(200, CourseOut(many=True))
    @courses_blp.paginate()
    def get(self, args, pagination_parameters):
        """The courses you may see: admins all, instructors theirs, teachers published ones
        and those they are enrolled in."""
        return paginate(services.course_query(actor(), **args), pagination_parameters)


@courses_blp.route("/<int:course_id>")
class CourseItem(MethodView):
    @login_required
    @courses_blp.response(200, CourseOut)
    def get(self, course_id):
        """One course (404 when you may not see it)."""
        return services.visible_course(course_id, actor())

    @roles_required(Role.ADMIN)
    @courses_blp.arguments(CourseUpdate)
    @courses_blp.response(200, CourseOut)
    @courses_blp.alt_response(
        409, description="Code taken, course archived, or capacity below the seats taken meanwhile."
    )
    def patch(self, changes, course_id):
        """Update a course, including its completion rule and certificate settings."""
        return services.update_course(services.get_course(course_id), changes, actor=actor())


def _status_view(action: str):
    @roles_required(Role.ADMIN)
    def view(course_id):
        return services.change_status(services.get_course(course_id), action, actor=actor())

    view.__name__ = f"{action}_course"
    view.__doc__ = {
        "publish": "Publish a draft (or reopen a closed) course.",
        "close": "Close a published course to new enrolments and work.",
        "archive": "Archive a closed or draft course (read-only).",
    }[action]
    return view


for _action in services.TRANSITIONS:
    courses_blp.route(f"/<int:course_id>/{_action}", methods=["POST"])(
        courses_blp.alt_response(
            409, description="``invalid-status-transition``: not from the course's status."
        )(courses_blp.response(200, CourseOut)(_status_view(_action)))
    )


@courses_blp.route("/<int:course_id>/instructors")
@login_required
@courses_blp.response(200, InstructorOut(many=True))
@courses_blp.paginate()
def list_instructors(course_id, pagination_parameters):
    """The instructors of a course (visible to whoever may see the course)."""
    course = services.visible_course(course_id, actor())
    return paginate(services.instructors_query(course), pagination_parameters)


@courses_blp.route("/<int:course_id>/instructors/<int:user_id>")
class InstructorItem(MethodView):
    @roles_required(Role.ADMIN)
    @courses_blp.response(200, InstructorOut)
    @courses_blp.alt_response(422, description="The user is not an active instructor.")
    def put(self, course_id, user_id):
        """Assign an instructor (idempotent)."""
        return services.assign_instructor(services.get_course(course_id), user_id, actor=actor())

    @roles_required(Role.ADMIN)
    @courses_blp.response(204)
    def delete(self, course_id, user_id):
        """Remove an instructor from the course."""
        services.unassign_instructor(services.get_course(course_id), user_id, actor=actor())


def _module_reader(course):
    """404 unless the caller may read the course's modules; decides if answers show."""
    user = actor()
    if not permissions.can_view_modules(user, course):
        raise NotFound()
    g.show_answers = permissions.is_course_staff(user, course)


@courses_blp.route("/<int:course_id>/modules")
class CourseModules(MethodView):
    @roles_required(Role.ADMIN)
    @courses_blp.arguments(ModuleCreate)
    @courses_blp.response(201, ModuleOut)
    @courses_blp.alt_response(409, description="The course is archived.")
    def post(self, data, course_id):
        """Add a module: theory (optional quiz) or practical (rubric required)."""
        g.show_answers = True
        return services.create_module(services.get_course(course_id), data, actor=actor())

    @login_required
    @courses_blp.response(200, ModuleOut(many=True))
    @courses_blp.paginate()
    def get(self, course_id, pagination_parameters):
        """The modules of a course in order. Teachers never see quiz answers."""
        course = services.visible_course(course_id, actor())
        _module_reader(course)
        return paginate(services.modules_query(course), pagination_parameters)


@courses_blp.route("/<int:course_id>/modules/order", methods=["PUT"])
@roles_required(Role.ADMIN)
@courses_blp.arguments(ModuleOrder)
@courses_blp.response(200, ModuleOut(many=True))
def reorder_modules(data, course_id):
    """Reorder the modules: send every module id once, in the new order."""
    g.show_answers = True
    return services.reorder_modules(
        services.get_course(course_id), data["module_ids"], actor=actor()
    )


@modules_blp.route("/<int:module_id>")
class ModuleItem(MethodView):
    @login_required
    @modules_blp.response(200, ModuleOut)
    def get(self, module_id):
        """One module (404 when you may not see it)."""
        module = db.session.get(services.Module, module_id)
        if module is None:
            raise NotFound()
        _module_reader(services.visible_course(module.course_id, actor()))
        return module

    @roles_required(Role.ADMIN)
    @modules_blp.arguments(ModuleUpdate)
    @modules_blp.response(200, ModuleOut)
    @modules_blp.alt_response(
        409, description="``module-in-use``: its quiz or rubric cannot change after learner use."
    )
    def patch(self, changes, module_id):
        """Update a module; its quiz or rubric cannot change once learners used it."""
        g.show_answers = True
        return services.update_module(services.get_module(module_id), changes, actor=actor())

    @roles_required(Role.ADMIN)
    @modules_blp.response(204)
    @modules_blp.alt_response(409, description="``module-in-use``: learners used the module.")
    def delete(self, module_id):
        """Delete a module without learner activity."""
        services.delete_module(services.get_module(module_id), actor=actor())
