"""Programmes, courses, instructors and modules."""

from flask import jsonify
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
    ModuleStaffOut,
    ModuleUpdate,
    ProgramCreate,
    ProgramOut,
    ProgramUpdate,
)
from lms.core.auth import actor, load
from lms.core.pagination import paginate

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
    @load(roles=Role.ADMIN)
    @programs_blp.arguments(ProgramCreate)
    @programs_blp.response(201, ProgramOut)
    @programs_blp.alt_response(409, description="``code-taken``: another programme has it.")
    def post(self, data):
        """Create a programme."""
        return services.create_program(data, actor=actor())

    @load()
    @programs_blp.response(200, ProgramOut(many=True))
    @programs_blp.paginate()
    def get(self, pagination_parameters):
        """List programmes."""
        return paginate(services.program_query(), pagination_parameters)


@programs_blp.route("/<int:program_id>")
class ProgramItem(MethodView):
    @load()
    @programs_blp.response(200, ProgramOut)
    def get(self, program_id):
        """One programme."""
        return services.get_program(program_id)

    @load(roles=Role.ADMIN)
    @programs_blp.arguments(ProgramUpdate)
    @programs_blp.response(200, ProgramOut)
    @programs_blp.alt_response(409, description="``code-taken``: another programme has it.")
    def patch(self, changes, program_id):
        """Update a programme."""
        return services.update_program(services.get_program(program_id), changes, actor=actor())


@courses_blp.route("")
class Courses(MethodView):
    @load(roles=Role.ADMIN)
    @courses_blp.arguments(CourseCreate)
    @courses_blp.response(201, CourseOut)
    @courses_blp.alt_response(409, description="``code-taken``: another course has this code.")
    def post(self, data):
        """Create a course (status draft)."""
        return services.create_course(data, actor=actor())

    @load()
    @courses_blp.arguments(CourseListArgs, location="query")
    @courses_blp.response(200, CourseOut(many=True))
    @courses_blp.paginate()
    def get(self, args, pagination_parameters):
        """The courses you may see: admins all, instructors theirs, teachers published ones
        and those they are enrolled in."""
        return paginate(services.course_query(actor(), **args), pagination_parameters)


@courses_blp.route("/<int:course_id>")
class CourseItem(MethodView):
    @load(course=permissions.visible_course)
    @courses_blp.response(200, CourseOut)
    def get(self, course):
        """One course (404 when you may not see it)."""
        return course

    @load(roles=Role.ADMIN)
    @courses_blp.arguments(CourseUpdate)
    @courses_blp.response(200, CourseOut)
    @courses_blp.alt_response(
        409, description="Code taken, course archived, or capacity below the seats taken meanwhile."
    )
    def patch(self, changes, course_id):
        """Update a course, including its completion rule and certificate settings."""
        return services.update_course(services.get_course(course_id), changes, actor=actor())


def _status_view(action: str):
    @load(roles=Role.ADMIN)
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
@load(course=permissions.visible_course)
@courses_blp.response(200, InstructorOut(many=True))
@courses_blp.paginate()
def list_instructors(course, pagination_parameters):
    """The instructors of a course (visible to whoever may see the course)."""
    return paginate(services.instructors_query(course), pagination_parameters)


@courses_blp.route("/<int:course_id>/instructors/<int:user_id>")
class InstructorItem(MethodView):
    @load(roles=Role.ADMIN)
    @courses_blp.response(200, InstructorOut)
    @courses_blp.alt_response(422, description="The user is not an active instructor.")
    def put(self, course_id, user_id):
        """Assign an instructor (idempotent)."""
        return services.assign_instructor(services.get_course(course_id), user_id, actor=actor())

    @load(roles=Role.ADMIN)
    @courses_blp.response(204)
    def delete(self, course_id, user_id):
        """Remove an instructor from the course."""
        services.unassign_instructor(services.get_course(course_id), user_id, actor=actor())


# What a module reader gets: course staff see the quiz answers, teachers never do. The
# document shows the staff schema (``correct`` is described as staff only).
MODULE_OUT = {True: ModuleStaffOut(), False: ModuleOut()}
MODULES_OUT = {True: ModuleStaffOut(many=True), False: ModuleOut(many=True)}


def _as_reader(schemas: dict, course, data):
    """``data`` dumped with the schema for the caller's relation to ``course``."""
    return jsonify(schemas[permissions.is_course_staff(actor(), course)].dump(data))


@courses_blp.route("/<int:course_id>/modules")
class CourseModules(MethodView):
    @load(roles=Role.ADMIN)
    @courses_blp.arguments(ModuleCreate)
    @courses_blp.response(201, ModuleStaffOut)
    @courses_blp.alt_response(409, description="The course is archived.")
    def post(self, data, course_id):
        """Add a module: theory (optional quiz) or practical (rubric required)."""
        return services.create_module(services.get_course(course_id), data, actor=actor())

    @load(course=permissions.module_course)
    @courses_blp.response(200, ModuleStaffOut(many=True))
    @courses_blp.paginate()
    def get(self, course, pagination_parameters):
        """The modules of a course in order. Teachers never see quiz answers."""
        modules = paginate(services.modules_query(course), pagination_parameters)
        return _as_reader(MODULES_OUT, course, modules)


@courses_blp.route("/<int:course_id>/modules/order", methods=["PUT"])
@load(roles=Role.ADMIN)
@courses_blp.arguments(ModuleOrder)
@courses_blp.response(200, ModuleStaffOut(many=True))
def reorder_modules(data, course_id):
    """Reorder the modules: send every module id once, in the new order."""
    return services.reorder_modules(
        services.get_course(course_id), data["module_ids"], actor=actor()
    )


@modules_blp.route("/<int:module_id>")
class ModuleItem(MethodView):
    @load(module=permissions.visible_module)
    @modules_blp.response(200, ModuleStaffOut)
    def get(self, module):
        """One module (404 when you may not see it).

        Course staff get the quiz's correct answers (``correct``); teachers never do.
        """
        return _as_reader(MODULE_OUT, module.course, module)

    @load(roles=Role.ADMIN)
    @modules_blp.arguments(ModuleUpdate)
    @modules_blp.response(200, ModuleStaffOut)
    @modules_blp.alt_response(
        409, description="``module-in-use``: its quiz or rubric cannot change after learner use."
    )
    def patch(self, changes, module_id):
        """Update a module; its quiz or rubric cannot change once learners used it."""
        return services.update_module(services.get_module(module_id), changes, actor=actor())

    @load(roles=Role.ADMIN)
    @modules_blp.response(204)
    @modules_blp.alt_response(409, description="``module-in-use``: learners used the module.")
    def delete(self, module_id):
        """Delete a module without learner activity."""
        services.delete_module(services.get_module(module_id), actor=actor())
